import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { Mags } from '../src/sdk/mags.ts';
import { createToken } from '../src/server/tokens.ts';
import { openStateRepository } from '../src/state/open-state-repository.ts';
import { createTestPostgresDatabase } from '../src/state/postgres/postgres-test-database.ts';
import {
  endServerProcess,
  startClusterServerProcess,
} from '../test/helpers/cluster-server-process.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from '../test/helpers/test-home.ts';
import { measure, type Summary } from './stats.ts';

const iterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 200);
const downloadBytes = 100 * 1024 * 1024;
const downloads = 3;

/**
 * Issue 17: what forwarding adds. A long-lived sandbox on host B; the same requests sent to B
 * itself (the baseline) and to an API-only server A that forwards them to B, in the same run:
 * a small file read and an exec followed to its end, one at a time (p50, p95), and a 100 MB file
 * download (MB/s). Both servers are real processes on one shared state: the test PostgreSQL
 * when it is reachable (what a cluster uses; its table's title says which), else one SQLite file
 * both open (the CLI's cluster flags need postgres://, so then the test helper starts them).
 */
export async function forwardBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  if (skip) {
    process.stdout.write(`\n## forwarding: skipped (${skip})\n`);
    return;
  }
  const homes: TestHome[] = [];
  const home = async () => {
    const made = await createTestHome();
    homes.push(made);
    return made.home;
  };
  // PostgreSQL when there is one (its notifications follow a job across servers at once);
  // otherwise one SQLite file, where a follower on another server polls.
  const postgres = await createTestPostgresDatabase();
  const stateLocation = 'url' in postgres ? postgres.url : join(await home(), 'state.db');
  const state = await openStateRepository(stateLocation, '/nonexistent');
  const servers: Awaited<ReturnType<typeof startClusterServerProcess>>[] = [];
  try {
    const options = { state: stateLocation };
    servers.push(await startClusterServerProcess({ ...options, home: await home(), hostId: 'b' }));
    servers.push(
      await startClusterServerProcess({
        ...options,
        home: await home(),
        hostId: 'a',
        apiOnly: true,
      }),
    );
    const [hostB, apiA] = servers as [(typeof servers)[0], (typeof servers)[0]];
    const { token } = await createToken(state, 'bench', 'bench');
    const direct = new Mags({ url: hostB.url, token });
    const forwarded = new Mags({ url: apiA.url, token });
    await direct.sandboxes.create({ name: 'bench', ephemeral: true, sleep: false });
    await direct.sandboxes.files.write('bench', '/tmp/small', 'tiny');
    await direct.sandboxes.execAndWait('bench', `head -c ${downloadBytes} /dev/zero > /tmp/big`);

    const results = new Map<string, { read: Summary; exec: Summary; mbps: number }>();
    for (const [name, mags, url] of [
      ['B itself', direct, hostB.url],
      ['through A', forwarded, apiA.url],
    ] as const) {
      const read = await measure(`${name}: file read`, iterations, () =>
        mags.sandboxes.files.read('bench', '/tmp/small'),
      );
      const exec = await measure(`${name}: exec`, Math.ceil(iterations / 4), () =>
        mags.sandboxes.execAndWait('bench', 'true'),
      );
      const agent = new Agent({ keepAlive: true });
      const rates: number[] = [];
      for (let index = 0; index < downloads; index++) {
        const began = performance.now();
        const bytes = await download(`${url}/v1/sandboxes/bench/files?path=/tmp/big`, token, agent);
        if (bytes !== downloadBytes) throw new Error(`${name}: ${bytes} bytes downloaded`);
        rates.push(downloadBytes / 1e6 / ((performance.now() - began) / 1000));
      }
      agent.destroy();
      rates.sort((a, b) => a - b);
      results.set(name, { read, exec, mbps: rates[Math.floor(rates.length / 2)] ?? 0 });
    }
    const base = results.get('B itself');
    const through = results.get('through A');
    if (!base || !through) return;
    const rows: string[][] = [];
    const row = (label: string, a: number, b: number, digits: number) =>
      rows.push([label, a.toFixed(digits), b.toFixed(digits), `${(b / a).toFixed(2)}×`]);
    row('small file read: p50 ms', base.read.medianMs, through.read.medianMs, 2);
    row('small file read: p95 ms', base.read.p95Ms, through.read.p95Ms, 2);
    row('exec `true`, followed to its end: p50 ms', base.exec.medianMs, through.exec.medianMs, 1);
    row('exec `true`, followed to its end: p95 ms', base.exec.p95Ms, through.exec.p95Ms, 1);
    row('100 MB file download: MB/s (median of 3)', base.mbps, through.mbps, 0);
    process.stdout.write(
      [
        `\n## forwarding: requests for a sandbox on host B, sent to B vs to an API-only server A (state: ${'url' in postgres ? 'PostgreSQL' : 'SQLite, a follower polls'})\n`,
        `added latency of a forwarded small request: p50 +${(through.read.medianMs - base.read.medianMs).toFixed(2)} ms (${iterations} requests)\n`,
        '| measure | B itself | through A | A / B |',
        '| --- | ---: | ---: | ---: |',
        ...rows.map((cells) => `| ${cells.join(' | ')} |`),
        '',
      ].join('\n'),
    );
  } finally {
    for (const server of servers.reverse()) await endServerProcess(server.child, 'SIGTERM');
    await state.close();
    if ('drop' in postgres) await postgres.drop();
    for (const made of homes) await made.cleanup();
  }
}

/** One GET, its body counted (not kept: the download is 100 MB). */
function download(url: string, token: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (answer) => {
      let bytes = 0;
      answer.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      answer.on('end', () => resolve(bytes));
      answer.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}
