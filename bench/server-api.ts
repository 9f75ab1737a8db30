import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { packageRoot } from '../src/config/package-paths.ts';
import { createMagsContext } from '../src/context/mags-context.ts';
import { runCommand } from '../src/jobs/run-command.ts';
import { Mags } from '../src/sdk/mags.ts';
import { startServerProcess } from '../test/helpers/server-process.ts';
import { createTestHome, sandboxSkipReason } from '../test/helpers/test-home.ts';
import { measure, printTable, summarize } from './stats.ts';

const iterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 30);

/**
 * Issue 4: what the API adds to a run (`runAndWait('true')` through a real server process vs the
 * same run through the in-process runtime call), and throughput of 100 jobs from 10 clients at
 * once, with the server's peak memory.
 */
export async function serverApiBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## server API: skipped (${skip})\n`);
    return;
  }
  const testHome = await createTestHome();
  const environment = { ...process.env, MAGS_HOME: testHome.home };
  const cli = join(packageRoot(), 'bin', 'mags.js');
  const server = await startServerProcess(environment);
  try {
    const tokens = Array.from({ length: 10 }, (_, index) => {
      const result = spawnSync(
        process.execPath,
        [cli, 'token', 'create', '--owner', `bench${index}`],
        {
          env: environment,
        },
      );
      return result.stdout.toString().trim();
    });
    const clients = tokens.map((token) => new Mags({ url: server.url, token }));
    const first = clients[0] as Mags;
    const idleRss = await memory(server.child.pid as number, 'VmRSS');

    const context = createMagsContext(environment);
    const sink = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
    const inProcess = await measure('runtime API: run true (in-process)', iterations, async () => {
      await runCommand(context, {
        argv: ['true'],
        timeoutMs: 60_000,
        limits: context.defaults.limits,
        network: false,
        image: 'default',
        stdout: sink(),
        stderr: sink(),
      });
    });
    const api = await measure("SDK runAndWait('true') via mags server", iterations, async () => {
      const result = await first.runAndWait('true');
      if (result.exitCode !== 0) throw new Error(`job failed: ${result.stderr}`);
    });
    printTable('server API overhead (same run)', [
      { summary: inProcess },
      { summary: api, floor: inProcess },
    ]);

    // Throughput: 10 clients submit 10 jobs each, all at once.
    const latencies: number[] = [];
    const startedAt = performance.now();
    await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: 10 }, async () => {
          const submitted = performance.now();
          const result = await client.runAndWait('echo done');
          if (result.stdout !== 'done\n') throw new Error(`wrong output: ${result.stdout}`);
          latencies.push(performance.now() - submitted);
        }),
      ),
    );
    const wallMs = performance.now() - startedAt;
    const latency = summarize('job latency (submit → end of output)', latencies);
    const peakRss = await memory(server.child.pid as number, 'VmHWM');
    process.stdout.write(
      [
        '\n## server throughput: 100 jobs submitted at once by 10 clients\n',
        '| jobs | wall s | jobs/s | median latency ms | p95 latency ms | server RSS idle | server peak RSS |',
        '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        `| 100 | ${(wallMs / 1000).toFixed(2)} | ${(100 / (wallMs / 1000)).toFixed(1)} | ${latency.medianMs.toFixed(0)} | ${latency.p95Ms.toFixed(0)} | ${idleRss} MiB | ${peakRss} MiB |`,
        '',
      ].join('\n'),
    );
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    await testHome.cleanup();
  }
}

async function memory(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return (kib / 1024).toFixed(0);
}
