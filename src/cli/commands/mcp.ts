import type { Command } from 'commander';
import { withExamples } from '../help-examples.ts';
import { mcpClientConfig, mcpConfigClients } from './mcp-client-config.ts';

/** How long in-flight tool calls get to cancel their jobs once the client has gone. */
const closeGraceMs = 3000;

const exampleConfig = `{
    "mcpServers": {
      "mags": { "command": "/path/to/node", "args": ["/path/to/mags/bin/mags.js", "mcp"] }
    }
  }`;

/**
 * `mags mcp`: an MCP server over stdio for a local agent (Claude Code, Cursor, Codex CLI), on the
 * server the CLI uses: --url / MAGS_URL / `mags login`, else this host's local server, started on
 * demand. The MCP layer is a client of the REST API; this command only gives it a client and a
 * transport.
 */
export function registerMcpCommand(program: Command): void {
  const command = program
    .command('mcp')
    .description(
      'Serve the mags tools to an MCP client (Claude Code, Cursor, Codex CLI) over stdin/stdout; the agent starts it from its config.',
    )
    .option(
      '--url <url>',
      "use the mags server at this URL (default: MAGS_URL, then mags login, else this host's local server, started on demand)",
    )
    .option(
      '--config <client>',
      `print a config for ${mcpConfigClients.join(', ')} that starts mags mcp from this checkout with this Node.js, and exit`,
    )
    .addHelpText(
      'after',
      [
        '',
        'stdout carries only the protocol (JSON-RPC); messages go to stderr. The server is checked',
        'before the handshake: one that cannot be reached (or refuses the token) ends mags mcp',
        'with exit code 1 and the reason on stderr. It exits when the client closes stdin.',
        '',
        `An MCP client config (Cursor's .cursor/mcp.json, Claude Code's .mcp.json), with absolute`,
        `paths (--config prints yours; npx mags from another directory would not find this one):`,
        `  ${exampleConfig}`,
      ].join('\n'),
    )
    .action(async (flags: { config?: string }, own: Command) => {
      if (flags.config !== undefined) {
        process.stdout.write(mcpClientConfig(flags.config));
        return;
      }
      await serveMcpOverStdio(own);
    });
  withExamples(command, [
    'npx mags mcp --config codex >> ~/.codex/config.toml',
    "npx mags mcp --config claude   # in the mags checkout; paste into your project's .mcp.json",
    'MAGS_URL=http://build-host:7070 MAGS_API_TOKEN=... mags mcp',
  ]);
}

async function serveMcpOverStdio(command: Command): Promise<void> {
  // A library's console.log would land in the JSON-RPC stream and break the client: stderr it is.
  console.log = console.error;
  console.info = console.error;
  console.debug = console.error;
  const [{ apiClient }, { createMcpServer }, { StdioServerTransport }] = await Promise.all([
    import('../client/api-client.ts'),
    import('../../mcp/create-mcp-server.ts'),
    import('@modelcontextprotocol/sdk/server/stdio.js'),
  ]);
  // The standard fetch, not the CLI's: a long-lived process does not mind its load time, keeps
  // connections alive between tool calls, and gives bodies as web streams, as the SDK's types say.
  const client = await apiClient(command, globalThis.fetch.bind(globalThis));
  // Fail before the handshake: the agent reports a server that did not start, with this stderr,
  // rather than offering tools that all fail. whoami checks the address and the token at once.
  const who = await client.whoami();
  const server = createMcpServer(client);
  // Listening before the transport reads stdin: its end may come right after the last message.
  const quit = new Promise<void>((resolve) => {
    // The transport does not watch for the end of stdin; the client closing it means "quit".
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    // A client that signals instead (or Ctrl-C) gets the same orderly end.
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await server.connect(new StdioServerTransport());
  process.stderr.write(`mags mcp: serving ${client.url} as ${who.owner} over stdio\n`);
  await quit;
  // Closing aborts the calls still running (their commands are cancelled through the API).
  await server.close();
  // Exit once the cancellations are sent; something still holding the loop gets a bounded wait.
  setTimeout(() => process.exit(process.exitCode ?? 0), closeGraceMs).unref();
}
