/**
 * Cron jobs on two `mags server` processes (namespace runtime, separate data directories) that
 * share one PostgreSQL state: both arm a per-second cron job, and every scheduled second is
 * claimed by one of them, so no time has two runs; what one server stored (the cron job, its
 * runs) the other shows, and a name taken through one is taken through the other.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Mags } from '../src/sdk/index.ts';
import { createTestPostgresDatabase } from '../src/state/postgres/postgres-test-database.ts';
import { startServerProcess, stopServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const database = await createTestPostgresDatabase();
const skip = sandboxSkipReason() ?? ('skip' in database ? database.skip : undefined);
if (skip) process.stdout.write(`# skipping cron on two servers: ${skip}\n`);

describe('cron jobs on two servers sharing one PostgreSQL', { skip }, () => {
  const url = 'url' in database ? database.url : '';
  const homes: TestHome[] = [];
  const children: ChildProcess[] = [];
  before(async () => {
    homes.push(await createTestHome(), await createTestHome());
  });
  after(async () => {
    for (const child of children) await stopServerProcess(child, { stopSandboxes: true });
    for (const home of homes) await home.cleanup();
    if ('drop' in database) await database.drop();
  });

  async function serve(home: string): Promise<string> {
    const { child, url: serverUrl } = await startServerProcess(
      // Per-second schedules for an owner other than `local`: the minimum interval off.
      { ...process.env, MAGS_HOME: home, MAGS_STATE: url, MAGS_CRON_MIN_INTERVAL_SECONDS: '0' },
      // Two hosts on one machine differ by their id (one id is one live server process).
      ['--pool-size', '0', '--host-id', `cron-${children.length}`],
    );
    children.push(child);
    return serverUrl;
  }

  test('each scheduled second runs once, whichever server claims it', async () => {
    const [first, second] = homes as [TestHome, TestHome];
    const created = await runCli(first.home, ['token', 'create', '--owner', 'alice'], {
      env: { MAGS_STATE: url },
    });
    assert.equal(created.code, 0, created.stderr.toString());
    const token = created.stdout.toString().trim();
    const a = new Mags({ url: await serve(first.home), token });
    await a.cron.create({ name: 'ticker', schedule: '* * * * * *', command: 'echo tick' });
    // The second server arms every stored cron job at its start.
    const b = new Mags({ url: await serve(second.home), token });
    const bothArmed = new Date().toISOString();
    assert.equal((await b.cron.get('ticker')).schedule, '* * * * * *');
    await assert.rejects(
      b.cron.create({ name: 'ticker', schedule: '* * * * * *', command: 'echo again' }),
      (error: Error & { statusCode?: number }) => error.statusCode === 409,
      'the name is taken on the shared state',
    );
    const scheduled = async () =>
      (await b.cron.runs('ticker', { limit: 500 })).runs.filter(
        (run) => run.trigger === 'schedule' && run.scheduledAt > bothArmed,
      );
    await waitUntil(async () => (await scheduled()).length >= 5, 30_000);
    // Both servers' claims raced for each of these seconds: one run each.
    const runs = await scheduled();
    const times = runs.flatMap((run) =>
      run.skippedUntil ? [run.scheduledAt, run.skippedUntil] : [run.scheduledAt],
    );
    assert.equal(new Set(times).size, times.length, JSON.stringify(times));
    // Both servers read the same history.
    const fromA = (await a.cron.runs('ticker', { limit: 500 })).runs.map((run) => run.id);
    assert.ok(
      runs.every((run) => fromA.includes(run.id)),
      'the first server lists the runs too',
    );
  });
});
