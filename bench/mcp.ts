import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { packageRoot } from '../src/config/package-paths.ts';
import { Mags } from '../src/sdk/mags.ts';
import { startServerProcess, stopServerProcess } from '../test/helpers/server-process.ts';
import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';
import { printRows, type Summary, summarize } from './stats.ts';

const iterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 200);
const warmup = 3;
const sandbox = 'bench-mcp';

/**
 * Issue 18: what MCP adds to a command. The `run_command` tool running `true` in a warm (already
 * created) sandbox, over stdio (`mags mcp`, as an agent spawns it) and over streamable HTTP
 * (`mags server`'s /mcp), beside the same exec through the REST API (SDK `execAndWait`), all
 * against one real server in the same run. A ping over stdio shows the transport alone. The
 * operations take turns within each iteration, so a slow spell of the shared machine falls on all
 * of them alike rather than on whichever block ran then.
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
    if (created.status !== 0) {
      throw new Error(`mags token create failed (${created.status}): ${created.stderr.toString()}`);
    }
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
    clients.push(http);

    const operations: Array<{ name: string; run: () => Promise<unknown> }> = [
      {
        name: "REST: SDK execAndWait('true')",
        run: async () => {
          const result = await rest.sandboxes.execAndWait(sandbox, 'true');
          if (result.exitCode !== 0) throw new Error(`exec failed: ${result.stderr}`);
        },
      },
      { name: 'MCP stdio: ping (transport only)', run: () => stdio.ping() },
      { name: "MCP stdio: run_command 'true'", run: () => runTrue(stdio) },
      { name: "MCP HTTP /mcp: run_command 'true'", run: () => runTrue(http) },
    ];
    const [restSummary, pingSummary, ...toolSummaries] = await measureInTurns(operations);
    const row = (summary: Summary, ratio: string) => [
      summary.name,
      String(summary.samples),
      summary.medianMs.toFixed(1),
      summary.p95Ms.toFixed(1),
      ratio,
    ];
    const versusRest = (summary: Summary) =>
      `${(summary.medianMs / (restSummary as Summary).medianMs).toFixed(2)}× REST`;
    printRows(
      `MCP: run true in a warm sandbox (same server, same run, ${iterations} calls each)`,
      ['operation', 'n', 'median ms', 'p95 ms', 'vs REST (median)'],
      [
        row(restSummary as Summary, 'baseline'),
        // A ping runs no command: a ratio to an exec would mean nothing.
        row(pingSummary as Summary, '(transport alone)'),
        ...toolSummaries.map((summary) => row(summary, versusRest(summary))),
      ],
    );
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

/**
 * Each operation `warmup` times untimed, then `iterations` rounds in which each runs once, the
 * starting one rotating from round to round.
 */
async function measureInTurns(
  operations: Array<{ name: string; run: () => Promise<unknown> }>,
): Promise<Summary[]> {
  for (const operation of operations) {
    for (let index = 0; index < warmup; index++) await operation.run();
  }
  const samples = operations.map(() => [] as number[]);
  for (let round = 0; round < iterations; round++) {
    for (let turn = 0; turn < operations.length; turn++) {
      const index = (round + turn) % operations.length;
      const startedAt = performance.now();
      await (operations[index] as (typeof operations)[number]).run();
      (samples[index] as number[]).push(performance.now() - startedAt);
    }
  }
  return operations.map((operation, index) => summarize(operation.name, samples[index] ?? []));
}

/** A client of the server's /mcp with the bearer token; any failure ends the benchmark. */
async function connectHttp(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'bench-http', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}
