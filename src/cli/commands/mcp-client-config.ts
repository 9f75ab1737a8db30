import { join } from 'node:path';
import { packageRoot } from '../../config/package-paths.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';

/** The MCP clients `mags mcp --config` writes a config for. */
export const mcpConfigClients = ['claude', 'cursor', 'codex'] as const;
export type McpConfigClient = (typeof mcpConfigClients)[number];

/**
 * Codex ends a tool call after 60 s by default: long enough for neither a build nor a test run.
 * An hour is `mags run`'s own default limit; run_command's `timeoutSeconds` argument still applies.
 */
const codexToolTimeoutSeconds = 3600;

/**
 * How an agent should start `mags mcp`: absolute paths, the Node.js running this command and this
 * checkout's bin/mags.js. Not `npx mags`: from the user's project npx would look for a `mags`
 * package on npm (not this one) and, without a terminal, install it without asking.
 */
export function mcpServerCommand(): { command: string; args: string[] } {
  return { command: process.execPath, args: [join(packageRoot(), 'bin', 'mags.js'), 'mcp'] };
}

/** A ready-to-paste config for `client`, starting `mags mcp` on this host's checkout. */
export function mcpClientConfig(client: string): string {
  const { command, args } = mcpServerCommand();
  switch (client) {
    // Claude Code's .mcp.json and Cursor's .cursor/mcp.json share this shape.
    case 'claude':
    case 'cursor':
      return `${JSON.stringify({ mcpServers: { mags: { command, args } } }, null, 2)}\n`;
    case 'codex':
      return [
        '[mcp_servers.mags]',
        `command = ${JSON.stringify(command)}`,
        `args = [${args.map((arg) => JSON.stringify(arg)).join(', ')}]`,
        'env_vars = ["MAGS_URL", "MAGS_API_TOKEN"]',
        'startup_timeout_sec = 30',
        `tool_timeout_sec = ${codexToolTimeoutSeconds}`,
        '',
      ].join('\n');
    default:
      throw new InvalidInputError(`Unknown MCP client "${client}" for --config.`, {
        code: 'invalid_mcp_client',
        hint: `Use one of: ${mcpConfigClients.join(', ')}.`,
      });
  }
}
