/**
 * CronManager on a real SQLite state with a fake clock (its `now`) and a recording `submit`: the
 * start (catch-up, bad rows, a crash's leftovers), overlap and history, and manual runs. Timers
 * are real but never reach a time here; each test stops its manager.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { NotFoundError } from '../errors/mags-error.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { CronJobRecord, JobRecord, StateRepository } from '../state/state-repository.ts';
import { CronManager } from './cron-manager.ts';

const minute = 60_000;

function harness(start: string, settings: { history?: number } = {}) {
  const repository = createSqliteStateRepository(':memory:');
  const clock = { now: Date.parse(start) };
  const submitted: JobRecord[] = [];
  const stopped: string[] = [];
  const logs: string[] = [];
  let refuse: Error | undefined;
  const managers: CronManager[] = [];
  const manager = (state: StateRepository = repository) => {
    const created = new CronManager({
      repository: state,
      jobs: {
        get: async (owner, id) => {
          const job = await repository.getJob(owner, id);
          if (!job) throw new NotFoundError(`no job ${id}`, { code: 'job_not_found' });
          return job;
        },
        stop: async (owner, id) => {
          stopped.push(id);
          await repository.updateJob(id, { status: 'stopped' });
          return (await repository.getJob(owner, id)) as JobRecord;
        },
      },
      submit: async (owner, body, options) => {
        if (refuse) throw refuse;
        const job = jobRecord(owner, `job_${submitted.length + 1}`, body.command, options.origin);
        job.createdAt = new Date(clock.now).toISOString();
        await repository.insertJob(job);
        submitted.push(job);
        return job;
      },
      settings: { minIntervalSeconds: 0, ...settings },
      environment: {},
      log: (line) => logs.push(line),
      now: () => clock.now,
    });
    managers.push(created);
    return created;
  };
  return {
    repository,
    clock,
    submitted,
    stopped,
    logs,
    manager,
    refuseWith(error: Error | undefined) {
      refuse = error;
    },
    async runs(cronId: string) {
      return (await repository.listCronRuns(cronId, { limit: 100 })).runs;
    },
    async close() {
      for (const each of managers) await each.stop();
    },
  };
}

function jobRecord(
  owner: string,
  id: string,
  command: string | string[],
  origin: string,
): JobRecord {
  return {
    id,
    owner,
    kind: 'run',
    sandbox: null,
    argv: typeof command === 'string' ? ['sh', '-c', command] : command,
    workspace: null,
    status: 'running',
    exitCode: null,
    signal: null,
    reason: null,
    sandboxId: null,
    endReason: null,
    message: null,
    createdAt: new Date().toISOString(),
    startedAt: null,
    finishedAt: null,
    logBytes: 0,
    logsRemovedAt: null,
    logsRemovedReason: null,
    origin,
  };
}

const add = (manager: CronManager, name: string, fields: Partial<CronJobRecord> = {}) =>
  manager.create('alice', {
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
    ...fields,
  });

test('a week offline on a per-second schedule: one missed run, a lower-bound count, the exact last time', async () => {
  const h = harness('2030-01-01T00:00:00Z');
  const cron = await add(h.manager(), 'fast', { schedule: '* * * * * *' });
  await h.close();
  h.clock.now += 7 * 24 * 60 * minute + 500;
  const report = await h.manager().start();
  assert.deepEqual([report.armed, report.missed, report.failed], [1, 1, 0]);
  const [missed] = await h.runs(cron.id);
  assert.deepEqual(
    [missed?.status, missed?.missedCount, missed?.missedCountIsLowerBound],
    ['missed', 1000, true],
  );
  assert.equal(missed?.missedUntil, '2030-01-08T00:00:00.000Z');
  assert.match(missed?.reason ?? '', /^1000 or more times from/);
  await h.close();
});

test('catch-up counts from the resumption: times while paused are not missed ones', async () => {
  const h = harness('2030-01-01T00:00:30Z');
  let manager = h.manager();
  const cron = await add(manager, 'hourly', { schedule: '0 * * * *' });
  await manager.pause('alice', 'hourly');
  h.clock.now += 5 * 60 * minute; // paused through 01:00 to 05:00
  await manager.resume('alice', 'hourly');
  await h.close();
  h.clock.now += 2 * 60 * minute; // offline through 06:00 and 07:00
  manager = h.manager();
  await manager.start();
  const [missed] = await h.runs(cron.id);
  assert.deepEqual(
    [missed?.missedCount, missed?.scheduledAt, missed?.missedUntil],
    [2, '2030-01-01T06:00:00.000Z', '2030-01-01T07:00:00.000Z'],
  );
  await h.close();
});

test('a stored cron job this server cannot read is recorded as failed to start; the others start', async () => {
  const h = harness('2030-01-01T00:00:00Z');
  const good = await add(h.manager(), 'good');
  await h.close();
  const bad: CronJobRecord = { ...good, id: 'crn_bad', name: 'bad', schedule: 'not a schedule' };
  assert.equal(await h.repository.insertCronJob(bad, 100), 'inserted');
  h.clock.now += 30_000;
  const report = await h.manager().start();
  assert.deepEqual([report.armed, report.failed], [1, 1]);
  const [failed] = await h.runs('crn_bad');
  assert.equal(failed?.status, 'failed_to_start');
  assert.match(
    failed?.reason ?? '',
    /not armed at the server's start: "not a schedule" is not a cron schedule/,
  );
  assert.match(failed?.reason ?? '', / — Five fields/, 'with the hint');
  assert.ok(h.logs.some((line) => line.startsWith('cron job bad (alice): not armed')));
  await h.close();
});

test('a claim whose job was never submitted fails at the next start; one submitted but not recorded is found by its origin', async () => {
  const h = harness('2030-01-01T00:00:00Z');
  const manager = h.manager();
  const cron = await add(manager, 'crashy', { allowOverlap: true });
  const keep = { keepRuns: 100 };
  const base = {
    cronId: cron.id,
    owner: 'alice',
    status: 'started' as const,
    trigger: 'schedule' as const,
    reason: null,
    missedCount: null,
    missedCountIsLowerBound: false,
    missedUntil: null,
    skippedCount: null,
    skippedUntil: null,
    jobId: null,
  };
  // crr_lost, claimed after the orphan job was created, cannot be its run.
  const lostAt = '2030-01-01T00:01:30.000Z';
  const at = '2030-01-01T00:01:00.000Z';
  await h.repository.insertCronRun(
    { ...base, id: 'crr_lost', scheduledAt: lostAt, at: lostAt },
    keep,
  );
  await h.repository.insertCronRun({ ...base, id: 'crr_found', scheduledAt: at, at }, keep);
  // crr_lost's server stopped before submitting; crr_found's after submitting, before recording.
  const orphan = jobRecord('alice', 'job_orphan', 'echo hi', `cron:crashy:${cron.id}`);
  orphan.createdAt = '2030-01-01T00:01:00.100Z';
  await h.repository.insertJob(orphan);
  // An older job of a cron job of the same name removed before: not this one's.
  const old = jobRecord('alice', 'job_old', 'echo hi', 'cron:crashy:crn_removed');
  old.createdAt = '2030-01-01T00:01:00.050Z';
  await h.repository.insertJob(old);
  await h.close();
  h.clock.now = Date.parse('2030-01-01T00:03:00Z');
  await h.manager().start();
  const runs = await h.runs(cron.id);
  const byId = new Map(runs.map((run) => [run.id, run]));
  assert.deepEqual(
    [byId.get('crr_found')?.status, byId.get('crr_found')?.jobId],
    ['started', 'job_orphan'],
  );
  assert.equal(byId.get('crr_lost')?.status, 'failed_to_start');
  assert.equal(
    byId.get('crr_lost')?.reason,
    'the server stopped before the run was submitted as a job',
  );
  await h.close();
});

test('a refused submission keeps its hint in the run', async () => {
  const h = harness('2030-01-01T00:00:00Z');
  const manager = h.manager();
  await add(manager, 'refused');
  h.refuseWith(new NotFoundError('No workspace "data".', { code: 'x', hint: 'Create it first.' }));
  const run = await manager.runNow('alice', 'refused');
  assert.deepEqual(
    [run.status, run.reason],
    ['failed_to_start', 'No workspace "data". — Create it first.'],
  );
  await h.close();
});

test('a manual run racing a removal records nothing and is a 404; a state error is not a 404', async () => {
  const h = harness('2030-01-01T00:00:00Z');
  const manager = h.manager();
  const cron = await add(manager, 'racing');
  const racing: StateRepository = Object.create(h.repository);
  // The removal lands between the lookup and the insert.
  racing.insertCronRun = async (run, recording) => {
    await h.repository.deleteCronJob('alice', 'racing');
    return h.repository.insertCronRun(run, recording);
  };
  const racer = h.manager(racing);
  await assert.rejects(racer.runNow('alice', 'racing'), { code: 'cron_not_found' });
  assert.equal(h.submitted.length, 0, 'no job for a removed cron job');
  assert.deepEqual(await h.runs(cron.id), []);

  await add(manager, 'broken');
  const broken: StateRepository = Object.create(h.repository);
  broken.insertCronRun = async () => {
    throw new Error('database is locked');
  };
  await assert.rejects(h.manager(broken).runNow('alice', 'broken'), /database is locked/);
  await h.close();
});

test('consecutive skipped times fold into one run; history keeps the newest N', async () => {
  const h = harness('2030-01-01T00:00:00Z', { history: 3 });
  const manager = h.manager();
  const cron = await add(manager, 'busy');
  const first = await manager.runNow('alice', 'busy'); // its job stays running
  assert.equal(first.status, 'started');
  for (let index = 0; index < 4; index++) {
    h.clock.now += 1000;
    const skipped = await manager.runNow('alice', 'busy');
    assert.equal(skipped.status, 'skipped');
    assert.match(skipped.reason ?? '', /the manual run of \S+ \(job job_1\) is still running/);
  }
  let runs = await h.runs(cron.id);
  assert.deepEqual(
    runs.map((run) => [run.status, run.skippedCount]),
    [
      ['skipped', 4],
      ['started', null],
    ],
  );
  assert.equal(runs[0]?.skippedUntil, new Date(h.clock.now).toISOString());
  // The job ends: new runs start, and only the newest three stay.
  await h.repository.updateJob('job_1', { status: 'succeeded' });
  for (let index = 0; index < 3; index++) {
    await h.repository.updateJob(`job_${index + 1}`, { status: 'succeeded' });
    h.clock.now += 1000;
    assert.equal((await manager.runNow('alice', 'busy')).status, 'started');
  }
  runs = await h.runs(cron.id);
  assert.deepEqual(
    runs.map((run) => run.jobId),
    ['job_4', 'job_3', 'job_2'],
  );
  await h.close();
});

test('remove --stop stops every live job of an overlapping cron job, and no other', async () => {
  const h = harness('2030-01-01T00:00:00Z');
  const manager = h.manager();
  await add(manager, 'wide', { allowOverlap: true });
  await manager.runNow('alice', 'wide');
  await manager.runNow('alice', 'wide');
  await add(manager, 'other');
  await manager.runNow('alice', 'other');
  await manager.remove('alice', 'wide', { stop: true });
  assert.deepEqual(h.stopped.sort(), ['job_1', 'job_2']);
  await h.close();
});

test('the per-owner cap and settings given as undefined keep their defaults', async () => {
  const h = harness('2030-01-01T00:00:00Z');
  const manager = new CronManager({
    repository: h.repository,
    jobs: { get: async () => assert.fail(), stop: async () => assert.fail() },
    submit: async () => assert.fail(),
    settings: { maxPerOwner: undefined, minIntervalSeconds: 0 },
    environment: {},
    now: () => h.clock.now,
  });
  assert.equal(manager.settings.maxPerOwner, 100);
  assert.equal(manager.settings.history, 1000);
  await manager.stop();
});

test('croner across DST (Europe/Berlin): a spring-forward 02:30 runs at 03:00; */20 runs in both 02:xx hours of the fall-back', async () => {
  const { parseCronSchedule } = await import('../config/cron-schedule.ts');
  const daily = parseCronSchedule('30 2 * * *', 'Europe/Berlin');
  // 2030-03-31 02:00 CET becomes 03:00 CEST: 02:30 does not exist that day.
  assert.equal(
    daily.nextAfter(new Date('2030-03-30T23:00:00Z'))?.toISOString(),
    '2030-03-31T01:00:00.000Z',
  );
  const every20 = parseCronSchedule('*/20 2 * * *', 'Europe/Berlin');
  // 2030-10-27 03:00 CEST becomes 02:00 CET: the hour 02:xx comes twice.
  const times: string[] = [];
  for (let at = new Date('2030-10-26T23:00:00Z'); times.length < 6; ) {
    const next = every20.nextAfter(at);
    if (!next) break;
    times.push(next.toISOString());
    at = next;
  }
  assert.deepEqual(times.slice(0, 6), [
    '2030-10-27T00:00:00.000Z',
    '2030-10-27T00:20:00.000Z',
    '2030-10-27T00:40:00.000Z',
    '2030-10-27T01:00:00.000Z',
    '2030-10-27T01:20:00.000Z',
    '2030-10-27T01:40:00.000Z',
  ]);
});
