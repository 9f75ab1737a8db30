/**
 * Cron jobs survive a real server restart: a `mags server` process (namespace runtime) fires two
 * per-second cron jobs, is stopped, and another is started on the same data directory a few
 * seconds later. The history continues across it, no scheduled time has two runs, and the times
 * that passed while no server ran are handled by each one's catch-up policy: one missed run with
 * their count ('skip'), or one run at once ('once').
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { CronRun } from '../src/api/cron.ts';
import { Mags } from '../src/sdk/index.ts';
import { startServerProcess, stopServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping cron restart tests: ${skip}\n`);

describe('cron jobs across a server restart', { skip }, () => {
  let testHome: TestHome | undefined;
  const children: ChildProcess[] = [];
  before(async () => {
    testHome = await createTestHome();
  });
  after(async () => {
    // Its per-second cron jobs may be running: their sandboxes are stopped with the server.
    // (A run whose sandbox was being launched as the first server detached can still be left
    // running: its runtime id was not recorded, so the next server cannot find it — a known
    // race of detaching, noted with issue 13; not asserted here.)
    for (const child of children) await stopServerProcess(child, { stopSandboxes: true });
    await testHome?.cleanup();
  });

  async function serve(home: string): Promise<string> {
    const { child, url } = await startServerProcess(
      // Per-second schedules for an owner other than `local`: the minimum interval off.
      { ...process.env, MAGS_HOME: home, MAGS_CRON_MIN_INTERVAL_SECONDS: '0' },
      ['--pool-size', '0'],
    );
    children.push(child);
    return url;
  }

  test('history continues, no time runs twice, missed times follow catch-up', async () => {
    const { home } = testHome as TestHome;
    const token = (await runCli(home, ['token', 'create', '--owner', 'alice'])).stdout
      .toString()
      .trim();
    let mags = new Mags({ url: await serve(home), token });
    await mags.cron.create({ name: 'skipper', schedule: '* * * * * *', command: 'echo tick' });
    await mags.cron.create({
      name: 'oncer',
      schedule: '* * * * * *',
      command: 'echo tock',
      catchUp: 'once',
    });
    const history = async (name: string): Promise<CronRun[]> =>
      (await mags.cron.runs(name, { limit: 500 })).runs.reverse();
    const started = async (name: string) =>
      (await history(name)).filter((run) => run.status === 'started' && run.trigger === 'schedule');
    await waitUntil(
      async () => (await started('skipper')).length >= 2 && (await started('oncer')).length >= 2,
      20_000,
    );

    // Stopped for a few seconds: several scheduled seconds pass with no server.
    await stopServerProcess(children.at(-1));
    const stoppedAt = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 3500));
    mags = new Mags({ url: await serve(home), token });
    const afterRestart = async (name: string) =>
      (await started(name)).filter((run) => run.scheduledAt > stoppedAt);
    await waitUntil(
      async () =>
        (await afterRestart('skipper')).length >= 2 && (await afterRestart('oncer')).length >= 2,
      20_000,
    );

    // skip: one missed run between the last run before the stop and the first after the start.
    const skipper = await history('skipper');
    const missed = skipper.filter((run) => run.status === 'missed');
    assert.equal(missed.length, 1, JSON.stringify(skipper, null, 1));
    const [gap] = missed as [CronRun];
    assert.equal(gap.trigger, 'catch-up');
    assert.ok((gap.missedCount ?? 0) >= 3, `missed ${gap.missedCount} times in 3.5 s`);
    assert.equal(
      gap.missedCount,
      (Date.parse(gap.missedUntil ?? '') - Date.parse(gap.scheduledAt)) / 1000 + 1,
      'every second from the first to the last missed one',
    );
    assert.match(
      gap.reason ?? '',
      /^\d+ times from \S+ to \S+ passed while no server was running \(catch-up: skip\)$/,
    );
    const index = skipper.indexOf(gap);
    assert.ok(index > 0 && index < skipper.length - 1, 'runs before and after it');
    assert.ok((skipper[index - 1] as CronRun).scheduledAt < gap.scheduledAt);
    assert.ok((gap.missedUntil ?? '') < (skipper[index + 1] as CronRun).scheduledAt);
    assertEachTimeOnce(skipper);

    // once: one run at start standing for the missed times, and no missed run.
    const oncer = await history('oncer');
    assert.deepEqual(
      oncer.filter((run) => run.status === 'missed'),
      [],
    );
    const caughtUp = oncer.filter((run) => run.trigger === 'catch-up');
    assert.equal(caughtUp.length, 1, JSON.stringify(oncer, null, 1));
    const [catchUpRun] = caughtUp as [CronRun];
    assert.equal(catchUpRun.status, 'started');
    assert.match(catchUpRun.reason ?? '', /^catch-up: \d+ times from \S+ to \S+ passed/);
    assert.ok(catchUpRun.scheduledAt > stoppedAt);
    assertEachTimeOnce(oncer);

    // Runs are ordinary jobs: their output, their status, their origin.
    const { stdout, job } = await mags.jobs.wait(catchUpRun.jobId as string);
    assert.deepEqual([stdout, job.status], ['tock\n', 'succeeded']);
    assert.match(job.origin ?? '', /^cron:oncer:crn_/);
    const last = (await afterRestart('skipper')).at(-1) as CronRun;
    const ticked = await mags.jobs.wait(last.jobId as string);
    assert.equal(ticked.stdout, 'tick\n');
    assert.match(ticked.job.origin ?? '', /^cron:skipper:crn_/);
    await mags.cron.pause('skipper');
    await mags.cron.pause('oncer');
  });
});

/** No scheduled time is covered twice (a missed run covers each second of its span). */
function assertEachTimeOnce(runs: CronRun[]): void {
  const seen = new Set<number>();
  for (const run of runs) {
    const first = Date.parse(run.scheduledAt);
    const last = run.missedUntil ? Date.parse(run.missedUntil) : first;
    for (let time = first; time <= last; time += 1000) {
      assert.ok(!seen.has(time), `${new Date(time).toISOString()} has two runs`);
      seen.add(time);
    }
  }
}
