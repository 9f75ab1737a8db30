import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { packageRoot } from '../src/config/package-paths.ts';
import { Mags } from '../src/sdk/mags.ts';
import { startServerProcess, stopServerProcess } from '../test/helpers/server-process.ts';
import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';
import { measure, printTable, type Summary } from './stats.ts';

const iterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 30);
const sandbox = 'bench-mcp';

/**
 * Issue 18: what MCP adds to a command. The `run_command` tool running `true` in a warm (already
 * created) sandbox, over stdio (`mags mcp`, as an agent spawns it) and over streamable HTTP
 * (`mags server`'s /mcp), beside the same exec through the REST API (SDK `execAndWait`), all
 * against one real server in the same run. A ping over stdio shows the transport alone.
 * The two transports differ past MCP: `mags mcp`'s tools call the REST API over loopback HTTP,
 * while /mcp's call the server's app in-process.
 */
export async function mcpBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## MCP: skipped (${skip})\n`);
    return;
  }
  const testHome = await createTestHome();
  const environment = { ...process.env, MAGS_HOME: testHome.home };
  const cli = join(packageRoot(), 'bin', 'mags.js');
  const server = await startServerProcess(environment);
  const clients: Client[] = [];
  try {
    const created = spawnSync(process.execPath, [cli, 'token', 'create', '--owner', 'bench'], {
      env: environment,
    });
    const token = created.stdout.toString().trim();
    const rest = new Mags({ url: server.url, token });
    await rest.sandboxes.create({ name: sandbox });

    const stdio = new Client({ name: 'bench-stdio', version: '1' });
    await stdio.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [cli, 'mcp'],
        env: {
          ...(environment as Record<string, string>),
          MAGS_URL: server.url,
          MAGS_API_TOKEN: token,
        },
        stderr: 'ignore',
      }),
    );
    clients.push(stdio);
    const http = await connectHttp(server.url, token);
    if (http) clients.push(http);

    const restSummary = await measure("REST: SDK execAndWait('true')", iterations, async () => {
      const result = await rest.sandboxes.execAndWait(sandbox, 'true');
      if (result.exitCode !== 0) throw new Error(`exec failed: ${result.stderr}`);
    });
    const rows: Array<{ summary: Summary; floor?: Summary }> = [{ summary: restSummary }];
    rows.push({
      summary: await measure('MCP stdio: ping (transport only)', iterations, () => stdio.ping()),
      floor: restSummary,
    });
    rows.push({
      summary: await measure("MCP stdio: run_command 'true'", iterations, () => runTrue(stdio)),
      floor: restSummary,
    });
    if (http) {
      rows.push({
        summary: await measure("MCP HTTP /mcp: run_command 'true'", iterations, () =>
          runTrue(http),
        ),
        floor: restSummary,
      });
    }
    printTable('MCP: run true in a warm sandbox (same server, same run)', rows);
    if (!http) process.stdout.write('\n(MCP over HTTP: skipped, this server has no /mcp)\n');
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await stopServerProcess(server.child, { stopSandboxes: true });
    await testHome.cleanup();
  }
}

async function runTrue(client: Client): Promise<void> {
  const result = await client.callTool({
    name: 'run_command',
    arguments: { sandbox, command: 'true' },
  });
  if (result.isError) throw new Error(`run_command failed: ${JSON.stringify(result.content)}`);
}

/** A client of the server's /mcp with the bearer token, or undefined when it has none (404). */
async function connectHttp(url: string, token: string): Promise<Client | undefined> {
  const client = new Client({ name: 'bench-http', version: '1' });
  try {
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    return client;
  } catch {
    return undefined;
  }
}
