import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type {
  BusyCronRun,
  CronJobRecord,
  CronRunRecord,
  JobRecord,
  JobStatus,
  StateRepository,
} from './state-repository.ts';

const keep = { keepRuns: 1000 };

type ContractTest = (title: string, body: (t: TestContext) => Promise<void>) => void;

/**
 * The cron part of the state contract (`runStateRepositoryContract` calls it). Owners here
 * (`cora`, `cyd`) are used by no other test of the suite, which shares one repository.
 */
export function cronStateContract(test: ContractTest, repository: () => StateRepository): void {
  test('cron jobs are per owner, unique by name, and listed oldest first', async () => {
    const state = repository();
    await state.insertCronJob(cronJob('crn_c1', 'cora', 'nightly'), 100);
    await state.insertCronJob(
      cronJob('crn_c2', 'cora', 'hourly', {
        workspace: 'data',
        persist: true,
        command: ['a', 'b'],
      }),
      100,
    );
    await state.insertCronJob(cronJob('crn_c3', 'cyd', 'nightly', { paused: true }), 100);
    assert.equal(await state.insertCronJob(cronJob('crn_c4', 'cora', 'nightly'), 100), 'exists');
    assert.equal(await state.insertCronJob(cronJob('crn_c5', 'cora', 'third'), 2), 'limit');
    assert.deepEqual(
      (await state.listCronJobs('cora')).map((cron) => cron.name),
      ['nightly', 'hourly'],
    );
    assert.equal(await state.countCronJobs('cora'), 2);
    assert.equal(await state.getCronJob('cyd', 'hourly'), undefined);
    const hourly = await state.getCronJob('cora', 'hourly');
    assert.deepEqual(
      [hourly?.workspace, hourly?.persist, hourly?.command, hourly?.timezone],
      ['data', true, ['a', 'b'], 'UTC'],
    );
    const active = (await state.activeCronJobs()).filter((cron) => cron.id.startsWith('crn_c'));
    assert.deepEqual(
      active.map((cron) => cron.id),
      ['crn_c1', 'crn_c2'],
      'a paused one is not armed',
    );
    await state.updateCronJob('crn_c3', { paused: false, resumedAt: 'r', updatedAt: 'u' });
    const resumed = await state.getCronJob('cyd', 'nightly');
    assert.deepEqual([resumed?.paused, resumed?.resumedAt, resumed?.updatedAt], [false, 'r', 'u']);
    assert.equal(await state.deleteCronJob('cyd', 'hourly'), false);
    assert.equal(await state.deleteCronJob('cyd', 'nightly'), true);
    assert.equal(await state.getCronJob('cyd', 'nightly'), undefined);
  });

  test('a scheduled time is claimed once; its run is recorded with the claim', async () => {
    const state = repository();
    await state.insertCronJob(cronJob('crn_claim', 'cora', 'claimed'), 100);
    const first = run('crr_1', 'crn_claim', '2026-01-01T00:00:01.000Z');
    assert.equal((await state.claimCronRun(first, '2026-01-01T00:00:02.000Z', keep))?.id, 'crr_1');
    assert.equal(
      await state.claimCronRun(run('crr_1b', 'crn_claim', '2026-01-01T00:00:01.000Z'), null, keep),
      undefined,
      'the same time a second time',
    );
    assert.equal(
      await state.claimCronRun(run('crr_0', 'crn_claim', '2026-01-01T00:00:00.000Z'), null, keep),
      undefined,
      'an earlier time',
    );
    const cron = await state.getCronJob('cora', 'claimed');
    assert.deepEqual(
      [cron?.lastRunAt, cron?.nextRunAt],
      ['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z'],
    );
    // A missed run claims through the last time it covers.
    const missed = run('crr_2', 'crn_claim', '2026-01-01T00:00:02.000Z', {
      status: 'missed',
      trigger: 'catch-up',
      missedCount: 3,
      missedUntil: '2026-01-01T00:00:04.000Z',
    });
    assert.equal((await state.claimCronRun(missed, null, keep))?.id, 'crr_2');
    assert.equal(
      await state.claimCronRun(run('crr_3', 'crn_claim', '2026-01-01T00:00:03.000Z'), null, keep),
      undefined,
    );
    assert.equal((await state.getCronJob('cora', 'claimed'))?.lastRunAt, missed.missedUntil);
    // A paused cron job claims nothing.
    await state.updateCronJob('crn_claim', { paused: true });
    assert.equal(
      await state.claimCronRun(run('crr_4', 'crn_claim', '2026-01-01T00:00:09.000Z'), null, keep),
      undefined,
    );
    const { runs } = await state.listCronRuns('crn_claim', { limit: 10 });
    assert.deepEqual(
      runs.map((each) => each.id),
      ['crr_2', 'crr_1'],
    );
    assert.deepEqual(
      [runs[0]?.missedCount, runs[0]?.trigger, runs[0]?.status],
      [3, 'catch-up', 'missed'],
    );
  });

  test('runs page newest first; the last one with a job; unsubmitted ones fail', async () => {
    const state = repository();
    await state.insertCronJob(cronJob('crn_runs', 'cora', 'runs'), 100);
    await state.insertCronRun(run('crr_r1', 'crn_runs', 't1', { jobId: 'job_1', at: 'a1' }), keep);
    await state.insertCronRun(
      run('crr_r2', 'crn_runs', 't2', { status: 'skipped', reason: 'busy', at: 'a2' }),
      keep,
    );
    await state.insertCronRun(
      run('crr_r3', 'crn_runs', 't3', { trigger: 'manual', at: 'a3' }),
      keep,
    );
    const first = await state.listCronRuns('crn_runs', { limit: 2 });
    assert.deepEqual(
      first.runs.map((each) => each.id),
      ['crr_r3', 'crr_r2'],
    );
    assert.ok(first.nextCursor);
    const second = await state.listCronRuns('crn_runs', { limit: 2, cursor: first.nextCursor });
    assert.deepEqual([second.runs.map((each) => each.id), second.nextCursor], [['crr_r1'], null]);
    // crr_r3 is `started` with no job: the server stopped before submitting it.
    // (Every owner's runs: other tests' unsubmitted runs may count too.)
    await state.failUnsubmittedCronRuns('a3', 'gone');
    const notYet = await state.listCronRuns('crn_runs', { limit: 1 });
    assert.equal(notYet.runs[0]?.status, 'started', 'only runs recorded before `before`');
    assert.ok((await state.failUnsubmittedCronRuns('a4', 'gone')) >= 1);
    await state.updateCronRun('crr_r2', { reason: 'still busy' });
    const all = await state.listCronRuns('crn_runs', { limit: 5 });
    assert.deepEqual(
      all.runs.map((each) => [each.status, each.reason]),
      [
        ['failed_to_start', 'gone'],
        ['skipped', 'still busy'],
        ['started', null],
      ],
    );
    assert.equal(await state.deleteCronJob('cora', 'runs'), true);
    assert.deepEqual((await state.listCronRuns('crn_runs', { limit: 5 })).runs, []);
  });

  test('runs and their jobs: live jobs of its origin, a busy run, unsubmitted runs given their job', async () => {
    const state = repository();
    await state.insertCronJob(cronJob('crn_jobs', 'cyd', 'jobs'), 100);
    const origin = 'cron:jobs:crn_jobs';
    const at = (seconds: string) => `2026-02-01T00:00:${seconds}Z`;
    for (const [id, status, createdAt, jobOrigin] of [
      ['job_cj1', 'succeeded', at('01.000'), origin],
      ['job_cj2', 'running', at('02.000'), origin],
      ['job_cj3', 'queued', at('03.000'), origin],
      ['job_cjx', 'running', at('03.000'), 'cron:jobs:crn_jobsx'],
    ] as const) {
      await state.insertJob(job(id, status, createdAt, jobOrigin));
    }
    assert.deepEqual(await state.liveJobsOfOrigin('cyd', origin), ['job_cj2', 'job_cj3']);
    assert.deepEqual(await state.liveJobsOfOrigin('cora', origin), [], 'another owner’s');
    // A run whose job is running makes the next one skipped, told which run is busy.
    const runOf = (id: string, fields: Partial<CronRunRecord>) =>
      run(id, 'crn_jobs', fields.at ?? at('00.000'), { owner: 'cyd', ...fields });
    await state.insertCronRun(runOf('crr_j1', { at: at('02.000'), jobId: 'job_cj2' }), keep);
    const seen: BusyCronRun[] = [];
    const busy = {
      since: at('00.000'),
      reason: (run: BusyCronRun) => `busy with ${seen.push(run) && run.jobId}`,
    };
    const skipped = await state.claimCronRun(runOf('crr_j2', { at: at('04.000') }), null, {
      keepRuns: 1,
      busy,
    });
    assert.deepEqual([skipped?.status, skipped?.reason], ['skipped', 'busy with job_cj2']);
    assert.deepEqual(seen, [
      { scheduledAt: at('02.000'), trigger: 'schedule', jobId: 'job_cj2', jobStatus: 'running' },
    ]);
    assert.deepEqual(
      (await state.listCronRuns('crn_jobs', { limit: 10 })).runs.map((each) => each.id),
      ['crr_j2', 'crr_j1'],
      'a run whose job is running is kept past keepRuns',
    );
    // The server stopped between submitting a run's job and recording it: the run is given the
    // oldest job of its origin created since and on no other run (one job to one run); a run
    // with no such job failed to start.
    await state.insertCronRun(runOf('crr_j3', { at: at('02.500') }), keep);
    await state.insertCronRun(runOf('crr_j4', { at: at('02.600') }), keep);
    assert.ok((await state.failUnsubmittedCronRuns(at('05.000'), 'server gone')) >= 1);
    const runs = (await state.listCronRuns('crn_jobs', { limit: 10 })).runs;
    assert.deepEqual(
      runs.map((each) => [each.id, each.status, each.jobId, each.reason]),
      [
        ['crr_j4', 'failed_to_start', null, 'server gone'],
        ['crr_j3', 'started', 'job_cj3', null],
        ['crr_j2', 'skipped', null, 'busy with job_cj2'],
        ['crr_j1', 'started', 'job_cj2', null],
      ],
    );
  });
}

/** A job of `origin` as the cron job's runs submit it. */
function job(id: string, status: JobStatus, createdAt: string, origin: string): JobRecord {
  return {
    id,
    owner: 'cyd',
    kind: 'run',
    sandbox: null,
    argv: ['sh', '-c', 'echo hi'],
    workspace: null,
    status,
    exitCode: null,
    signal: null,
    reason: null,
    endReason: null,
    sandboxId: null,
    message: null,
    createdAt,
    startedAt: null,
    finishedAt: null,
    logBytes: 0,
    logsRemovedAt: null,
    logsRemovedReason: null,
    origin,
  };
}

export function cronJob(
  id: string,
  owner: string,
  name: string,
  fields: Partial<CronJobRecord> = {},
): CronJobRecord {
  return {
    id,
    owner,
    name,
    schedule: '* * * * *',
    timezone: 'UTC',
    command: 'echo hi',
    workspace: null,
    persist: false,
    network: false,
    timeoutSeconds: null,
    allowOverlap: false,
    catchUp: 'skip',
    paused: false,
    lastRunAt: null,
    nextRunAt: null,
    resumedAt: null,
    createdAt: 'c',
    updatedAt: 'c',
    ...fields,
  };
}

export function run(
  id: string,
  cronId: string,
  scheduledAt: string,
  fields: Partial<CronRunRecord> = {},
): CronRunRecord {
  return {
    id,
    cronId,
    owner: 'cora',
    scheduledAt,
    at: scheduledAt,
    status: 'started',
    trigger: 'schedule',
    reason: null,
    missedCount: null,
    missedCountIsLowerBound: false,
    missedUntil: null,
    skippedCount: null,
    skippedUntil: null,
    jobId: null,
    ...fields,
  };
}
