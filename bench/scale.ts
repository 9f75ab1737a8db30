import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
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
import { measure, printRows, type Summary, summarize } from './stats.ts';

const jobCount = Number(process.env.MAGS_BENCH_ITERATIONS ?? 100);
/** Owners submitting at once, one job in flight each (per-owner limits never bind). */
const clientCount = 10;
/** Job slots of a one-server setup; each of the two hosts gets half: the same total. */
const totalSlots = 8;
const warmUpJobs = 10;
const roundTrips = 20;
/** Lines the followed job prints, at uneven intervals (10 to 150 ms), ~10 s in all. */
const followLines = 120;

type SetupName = 'one server, SQLite' | 'one host, PostgreSQL' | 'two hosts, PostgreSQL';

interface Throughput {
  name: SetupName;
  jobsPerSecond: number;
  latency: Summary;
  byHost: string;
}

/**
 * Issue 17: what shared state and several hosts cost. Short jobs (`echo`) from 10 clients until
 * `jobCount` are done, after a warm-up on each setup: jobs/s and the p50/p95 of one job's
 * submit-to-end time on one server with SQLite, one host with PostgreSQL, and two hosts on that
 * same PostgreSQL with half the job slots each (the same total: on this one machine a second
 * host adds no cores, so the two-host row says what placement, the queue and notifications cost,
 * not what a second machine gives); the clients are split between the two hosts' APIs. Then,
 * with an API-only server joined: a run asked of the host that runs it vs through the API-only
 * server, and the delay of each of 120 lines printed at uneven intervals, followed at once from
 * the host running the job, the other host, and the API-only server. Each table has its baseline
 * (same run) beside it; the load average is printed, since the machine is shared.
 */
export async function scaleBenchmark(): Promise<void> {
  const skip = sandboxSkipReason();
  const database = skip ? { skip } : await createTestPostgresDatabase();
  if ('skip' in database) {
    process.stdout.write(`\n## scale: skipped (${database.skip})\n`);
    return;
  }
  const loadBefore = loadavg();
  const homes: TestHome[] = [];
  const children: ChildProcess[] = [];
  const start = async (flags: string[]) => {
    const home = await createTestHome();
    homes.push(home);
    const server = await startServerProcess({ ...process.env, MAGS_HOME: home.home }, [
      '--pool-size',
      '2',
      ...flags,
    ]);
    children.push(server.child);
    return { ...server, home: home.home };
  };
  const stop = async (child: ChildProcess) => {
    await stopServerProcess(child, { stopSandboxes: true });
    children.splice(children.indexOf(child), 1);
  };
  const pg = ['--state', database.url, '--heartbeat', '0.5', '--host-timeout', '5'];
  const pgTokens = (label: string) =>
    clientTokens(() => createPostgresStateRepository(database.url), label);
  try {
    const single = await start(['--max-jobs', String(totalSlots)]);
    const sqliteTokens = await clientTokens(
      // The server made its state.db; a second repository on it adds the tokens.
      () => createSqliteStateRepository(join(single.home, 'state.db')),
      'sqlite',
    );
    const sqlite = await throughput('one server, SQLite', [single.url], sqliteTokens);
    await stop(single.child);

    const oneHost = await start([...pg, '--host-id', 'bench-a', '--max-jobs', `${totalSlots}`]);
    const postgres = await throughput('one host, PostgreSQL', [oneHost.url], await pgTokens('one'));
    await stop(oneHost.child);

    const half = ['--max-jobs', String(totalSlots / 2)];
    const hostA = await start([...pg, '--host-id', 'bench-a', ...half]);
    const hostB = await start([...pg, '--host-id', 'bench-b', ...half]);
    const admin = (await createTokenOn(database.url, 'bench-admin', true)).token;
    await waitUntil(async () => (await liveHosts(hostA.url, admin)) === 2, 10_000);
    const tokens = await pgTokens('two');
    const two = await throughput('two hosts, PostgreSQL', [hostA.url, hostB.url], tokens);

    printRows(
      `scale: SQLite vs PostgreSQL, one server (${jobCount} jobs, ${clientCount} clients, ${totalSlots} slots)`,
      ['setup', 'jobs/s', 'jobs/s vs SQLite', 'p50 ms', 'p95 ms', 'p95 vs SQLite'],
      [sqlite, postgres].map((row) => throughputRow(row, sqlite)),
    );
    printRows(
      `scale: one host vs two hosts on one PostgreSQL (${totalSlots} slots in total: ${totalSlots / 2} each on two)`,
      ['setup', 'jobs/s', 'jobs/s vs one host', 'p50 ms', 'p95 ms', 'p95 vs one host', 'ran on'],
      [postgres, two].map((row) => [...throughputRow(row, postgres), row.byHost]),
    );

    const api = await start([...pg, '--host-id', 'bench-api', '--api-only']);
    await waitUntil(async () => (await liveHosts(api.url, admin)) === 2, 10_000);
    const token = tokens[0] as string;
    const onHost = new Mags({ url: hostA.url, token });
    const run = (mags: Mags) => async () => {
      const result = await mags.runAndWait('echo done');
      if (result.stdout !== 'done\n') throw new Error(`unexpected output: ${result.stdout}`);
    };
    const direct = await measure('run asked of the host that runs it', roundTrips, run(onHost));
    const through = await measure(
      'run through the API-only server (placed on a host)',
      roundTrips,
      run(new Mags({ url: api.url, token })),
    );
    const lines = await followedLineDelays(token, {
      host: hostA.url,
      otherHost: hostB.url,
      apiOnly: api.url,
    });
    printRows(
      `scale: following through another server (${roundTrips} runs; ${followLines} lines at 10-150 ms, one job followed from three servers at once)`,
      ['measure', 'p50 ms', 'p95 ms', 'p50 added', 'p95 added', 'p95 vs baseline'],
      [
        followRow(direct, direct),
        followRow(through, direct),
        followRow(lines.host, lines.host),
        followRow(lines.otherHost, lines.host),
        followRow(lines.apiOnly, lines.host),
      ],
    );
  } finally {
    for (const child of [...children]) await stop(child);
    for (const home of homes) await home.cleanup();
    await database.drop();
  }
  const loads = (values: number[]) => values.map((value) => value.toFixed(2)).join(' ');
  process.stdout.write(
    `load average (1, 5, 15 min): ${loads(loadBefore)} before, ${loads(loadavg())} after\n`,
  );
}

function throughputRow(row: Throughput, base: Throughput): string[] {
  return [
    row.name,
    row.jobsPerSecond.toFixed(1),
    `${(row.jobsPerSecond / base.jobsPerSecond).toFixed(2)}×`,
    row.latency.medianMs.toFixed(0),
    row.latency.p95Ms.toFixed(0),
    `${(row.latency.p95Ms / base.latency.p95Ms).toFixed(2)}×`,
  ];
}

function followRow(row: Summary, base: Summary): string[] {
  const same = row === base;
  const added = (ms: number) => `${ms < 0 ? '−' : '+'}${Math.abs(ms).toFixed(1)} ms`;
  return [
    same ? `${row.name} (baseline)` : row.name,
    row.medianMs.toFixed(1),
    row.p95Ms.toFixed(1),
    same ? '' : added(row.medianMs - base.medianMs),
    same ? '' : added(row.p95Ms - base.p95Ms),
    same ? '' : `${(row.p95Ms / base.p95Ms).toFixed(2)}×`,
  ];
}

async function clientTokens(
  open: () => StateRepository | Promise<StateRepository>,
  label: string,
): Promise<string[]> {
  const repository = await open();
  try {
    const tokens: string[] = [];
    for (let index = 0; index < clientCount; index++) {
      tokens.push((await createToken(repository, `bench${index}`, `scale-${label}`)).token);
    }
    return tokens;
  } finally {
    await repository.close();
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

/**
 * `jobCount` runs of `echo done`, one in flight per client, clients spread over `urls`, after
 * `warmUpJobs` runs that are not counted (the first setup would otherwise pay the cold caches).
 */
async function throughput(name: SetupName, urls: string[], tokens: string[]): Promise<Throughput> {
  const clients = tokens.map(
    (token, index) => new Mags({ url: urls[index % urls.length] as string, token }),
  );
  const runOne = async (client: Mags) => {
    const result = await client.runAndWait('echo done');
    if (result.stdout !== 'done\n') throw new Error(`${name}: wrong output: ${result.stdout}`);
    return result;
  };
  await Promise.all(clients.slice(0, warmUpJobs).map(runOne));
  const latencies: number[] = [];
  const hosts = new Map<string, number>();
  let next = 0;
  const startedAt = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (next++ < jobCount) {
        const submitted = performance.now();
        const result = await runOne(client);
        latencies.push(performance.now() - submitted);
        const host = result.job.host ?? '-';
        hosts.set(host, (hosts.get(host) ?? 0) + 1);
      }
    }),
  );
  const wallMs = performance.now() - startedAt;
  return {
    name,
    jobsPerSecond: latencies.length / (wallMs / 1000),
    latency: summarize(name, latencies),
    byHost: [...hosts].map(([host, count]) => `${host} ${count}`).join(', '),
  };
}

/**
 * One job on the first host printing its clock (ns) `followLines` times at uneven intervals,
 * followed from three servers at once (one machine, one clock): each line's delay is its
 * arrival at the follower minus the time it holds.
 */
async function followedLineDelays(
  token: string,
  urls: { host: string; otherHost: string; apiOnly: string },
): Promise<{ host: Summary; otherHost: Summary; apiOnly: Summary }> {
  // 10 to 150 ms, in a fixed order that is not a multiple of the log's 50 ms flush.
  const sleeps = Array.from({ length: followLines }, (_, index) => 10 + ((index * 37) % 141));
  const script = `sleep 1; for s in ${sleeps.map((ms) => (ms / 1000).toFixed(3)).join(' ')}; do date +%s%N; sleep $s; done`;
  const job = await new Mags({ url: urls.host, token }).run(['sh', '-c', script]);
  if (job.host !== 'bench-a') throw new Error(`the followed job ran on ${job.host}, not bench-a`);
  const follow = async (url: string) => {
    const delays: number[] = [];
    let pending = '';
    await new Mags({ url, token }).jobs.logs(job.id, {
      onStdout: (text) => {
        const arrivedNs = BigInt(Date.now()) * 1_000_000n;
        pending += text;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (/^\d+$/.test(line)) delays.push(Number(arrivedNs - BigInt(line)) / 1e6);
        }
      },
    });
    if (delays.length !== followLines) throw new Error(`${url}: ${delays.length} lines followed`);
    return delays;
  };
  const [host, otherHost, apiOnly] = await Promise.all([
    follow(urls.host),
    follow(urls.otherHost),
    follow(urls.apiOnly),
  ]);
  return {
    host: summarize('line delay, followed on the host running it', host as number[]),
    otherHost: summarize('line delay, followed through the other host', otherHost as number[]),
    apiOnly: summarize('line delay, followed through the API-only server', apiOnly as number[]),
  };
}
