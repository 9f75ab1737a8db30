import type { ChildProcess } from 'node:child_process';
import { Mags } from '../src/sdk/mags.ts';
import { createToken } from '../src/server/tokens.ts';
import { createPostgresStateRepository } from '../src/state/postgres/postgres-state-repository.ts';
import { createTestPostgresDatabase } from '../src/state/postgres/postgres-test-database.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../src/state/state-repository.ts';
import {
  startServerProcess,
  stopServerProcess,
  waitUntil,
} from '../test/helpers/server-process.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from '../test/helpers/test-home.ts';
import { measure, printRows, printTable, summarize } from './stats.ts';

const iterations = Number(process.env.MAGS_BENCH_ITERATIONS ?? 20);
const clientCount = 10;
const jobsPerClient = 10;

/**
 * Issue 17: several servers and hosts. Throughput (jobs/s, p95) of 100 jobs from 10 clients on
 * one server with SQLite, one with PostgreSQL, and two hosts on one PostgreSQL (submitted to one
 * of them: placement spreads them); then what following a job through another server costs: a
 * run through an API-only server (placed on the host, its output followed through notifications)
 * beside the same run asked of that host itself, and the delay of each output line, printed
 * with its time inside the sandbox, as seen through each. Every figure beside its baseline of the
 * same run (this machine's 2 cores serve both hosts: two hosts show the cost, not the gain).
 */
export async function scaleBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  const database = skip ? { skip } : await createTestPostgresDatabase();
  if ('skip' in database) {
    process.stdout.write(`\n## scale: skipped (${database.skip})\n`);
    return;
  }
  const homes: TestHome[] = [];
  const children: ChildProcess[] = [];
  const start = async (
    flags: string[],
    tokenState: () => StateRepository | Promise<StateRepository>,
  ) => {
    const home = await createTestHome();
    homes.push(home);
    const server = await startServerProcess({ ...process.env, MAGS_HOME: home.home }, [
      '--pool-size',
      '2',
      ...flags,
    ]);
    children.push(server.child);
    const repository = await tokenState();
    const tokens = [];
    for (let index = 0; index < clientCount; index++) {
      tokens.push((await createToken(repository, `bench${index}`, 'scale')).token);
    }
    await repository.close();
    return { ...server, home: home.home, tokens };
  };
  const pg = ['--state', database.url, '--heartbeat', '0.5', '--host-timeout', '5'];
  try {
    const single = await start([], async () => {
      // The server made its state.db; a second repository on it adds the tokens.
      return createSqliteStateRepository(`${homes.at(-1)?.home}/state.db`);
    });
    const sqlite = await throughput('one server, SQLite', single.url, single.tokens);
    await stopServerProcess(single.child, { stopSandboxes: true });

    const hostOne = await start([...pg, '--host-id', 'bench-1'], () =>
      createPostgresStateRepository(database.url),
    );
    const postgres = await throughput('one server, PostgreSQL', hostOne.url, hostOne.tokens);
    const hostTwo = await start([...pg, '--host-id', 'bench-2'], () =>
      createPostgresStateRepository(database.url),
    );
    const admin = (await createTokenOn(database.url, 'bench-admin', true)).token;
    await waitUntil(async () => (await liveHosts(hostOne.url, admin)) === 2, 10_000);
    const two = await throughput('two hosts, PostgreSQL', hostOne.url, hostOne.tokens);
    printRows(
      'scale: 100 jobs submitted at once by 10 clients',
      ['setup', 'jobs/s', 'median latency ms', 'p95 latency ms', 'jobs/s vs one server, SQLite'],
      [sqlite, postgres, two].map((row) => [
        row.name,
        row.jobsPerSecond.toFixed(1),
        row.latency.medianMs.toFixed(0),
        row.latency.p95Ms.toFixed(0),
        `${(row.jobsPerSecond / sqlite.jobsPerSecond).toFixed(2)}×`,
      ]),
    );
    process.stdout.write(`hosts that ran them (two hosts): ${two.hosts}\n`);

    // Following through another server: host two leaves, an API-only server joins; every run
    // through it lands on host one.
    await stopServerProcess(hostTwo.child, { stopSandboxes: true });
    const api = await start([...pg, '--host-id', 'bench-api', '--api-only'], () =>
      createPostgresStateRepository(database.url),
    );
    await waitUntil(async () => (await liveHosts(hostOne.url, admin)) === 1, 10_000);
    const direct = new Mags({ url: hostOne.url, token: hostOne.tokens[0] as string });
    const through = new Mags({ url: api.url, token: hostOne.tokens[0] as string });
    const run = (mags: Mags) => async () => {
      const result = await mags.runAndWait('echo done');
      if (result.stdout !== 'done\n' || result.job.host !== 'bench-1') {
        throw new Error(`unexpected run: ${result.stdout} on ${result.job.host}`);
      }
    };
    const local = await measure(
      "runAndWait('echo done') asked of the host that runs it",
      iterations,
      run(direct),
    );
    const remote = await measure('the same through an API-only server', iterations, run(through));
    const lineLocal = summarize(
      'output line delay, followed on the host',
      await lineDelays(direct),
    );
    const lineRemote = summarize(
      'output line delay, followed through the API-only server',
      await lineDelays(through),
    );
    printTable('scale: following a job through another server (same host runs it)', [
      { summary: local },
      { summary: remote, floor: local },
      { summary: lineLocal },
      { summary: lineRemote, floor: lineLocal },
    ]);
  } finally {
    for (const child of children) await stopServerProcess(child, { stopSandboxes: true });
    for (const home of homes) await home.cleanup();
    await database.drop();
  }
}

async function createTokenOn(url: string, owner: string, admin: boolean) {
  const repository = await createPostgresStateRepository(url);
  try {
    return await createToken(repository, owner, 'scale', { admin });
  } finally {
    await repository.close();
  }
}

async function liveHosts(url: string, token: string): Promise<number> {
  const response = await fetch(`${url}/v1/hosts`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const { hosts } = (await response.json()) as { hosts: { state: string }[] };
  return hosts.filter((host) => host.state === 'live').length;
}

async function throughput(name: string, url: string, tokens: string[]) {
  const clients = tokens.map((token) => new Mags({ url, token }));
  const latencies: number[] = [];
  const hosts = new Map<string, number>();
  const startedAt = performance.now();
  await Promise.all(
    clients.flatMap((client) =>
      Array.from({ length: jobsPerClient }, async () => {
        const submitted = performance.now();
        const result = await client.runAndWait('echo done');
        if (result.stdout !== 'done\n') throw new Error(`wrong output: ${result.stdout}`);
        latencies.push(performance.now() - submitted);
        const host = result.job.host ?? '-';
        hosts.set(host, (hosts.get(host) ?? 0) + 1);
      }),
    ),
  );
  const wallMs = performance.now() - startedAt;
  return {
    name,
    jobsPerSecond: latencies.length / (wallMs / 1000),
    latency: summarize(name, latencies),
    hosts: [...hosts].map(([host, count]) => `${host} ${count}`).join(', '),
  };
}

/** Each line's delay from its `date` inside the sandbox to the client (one machine, one clock). */
async function lineDelays(mags: Mags): Promise<number[]> {
  const delays: number[] = [];
  const job = await mags.run('for i in $(seq 20); do date +%s%N; sleep 0.05; done');
  let pending = '';
  await mags.jobs.logs(job.id, {
    onStdout: (text) => {
      const seenAtMs = performance.timeOrigin + performance.now();
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) delays.push(seenAtMs - Number(line) / 1e6);
    },
  });
  return delays;
}
