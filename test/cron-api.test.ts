/**
 * Cron jobs through the API in-process (`app.request()`), on the fake runtime (commands are host
 * processes) as any user: bad input is a 400 that says what is wrong and creates nothing, owners
 * never see each other's cron jobs, an owner's count is capped, a schedule more frequent than the
 * server's minimum interval is refused. Firing is in test/cron-schedule.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CronJob, CronRun } from '../src/api/cron.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}

describe('cron jobs in-process: input, owners and limits', () => {
  let api: TestApp;
  let alice: string;
  let bob: string;
  before(async () => {
    api = await createTestApp({ cron: { maxPerOwner: 3, minIntervalSeconds: 60 } });
    alice = (await api.token('alice')).token;
    bob = (await api.token('bob')).token;
  });
  after(() => api.close());

  const add = (token: string, body: Record<string, unknown>) =>
    api.request(token, 'POST', '/v1/cron', { command: 'echo hi', ...body });

  test('a bad schedule, time zone, name or combination is a 400 that says so; nothing is created', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [
        { name: 'a', schedule: '61 * * * *' },
        'invalid_schedule',
        /"61 \* \* \* \*" is not a cron schedule/,
      ],
      [{ name: 'a', schedule: 'every day' }, 'invalid_schedule', /is not a cron schedule/],
      [{ name: 'a', schedule: '0 0 3 1 1 * 2027' }, 'invalid_schedule', /has 7 fields/],
      [
        { name: 'a', schedule: '0 0 1 1 *', timezone: '+02:00' },
        'invalid_timezone',
        /"\+02:00" is not a time zone/,
      ],
      [
        { name: 'a', schedule: '0 0 1 1 *', timezone: 'Mars/Olympus' },
        'invalid_timezone',
        /"Mars\/Olympus" is not a time zone/,
      ],
      [{ name: '-a', schedule: '0 0 1 1 *' }, 'invalid_input', /^body\.name: /],
      [{ name: 'a/b', schedule: '0 0 1 1 *' }, 'invalid_input', /^body\.name: /],
      [
        { name: 'a', schedule: '*/10 * * * * *' },
        'schedule_too_frequent',
        /runs every 10 s; this server allows runs at most every 60 s/,
      ],
      [
        { name: 'a', schedule: '0 0 1 1 *', persist: true },
        'persist_without_workspace',
        /-p \(--persist\) needs a workspace \(-w\)/,
      ],
      [
        { name: 'a', schedule: '0 0 1 1 *', workspace: 'w', allowOverlap: true },
        'overlap_with_workspace',
        /--allow-overlap cannot go with -w/,
      ],
      [
        { name: 'a', schedule: '0 0 1 1 *', timeoutSeconds: 0 },
        'invalid_input',
        /^body\.timeoutSeconds: /,
      ],
    ];
    for (const [body, code, message] of cases) {
      const response = await add(alice, body);
      const { error } = (await response.json()) as ErrorBody;
      assert.equal(response.status, 400, `${JSON.stringify(body)}: ${error.message}`);
      assert.equal(error.code, code, JSON.stringify(body));
      assert.match(error.message, message);
      if (code !== 'invalid_input') assert.ok(error.hint, `${code} has a hint`);
    }
    const list = (await (await api.request(alice, 'GET', '/v1/cron')).json()) as {
      cronJobs: CronJob[];
    };
    assert.deepEqual(list.cronJobs, []);
    // Every minute is exactly the minimum: allowed. The time zone is stored as Intl spells it.
    const minute = await add(alice, {
      name: 'a',
      schedule: '* * * * *',
      timezone: 'europe/berlin',
    });
    assert.equal(minute.status, 201, await minute.clone().text());
    assert.equal(((await minute.json()) as CronJob).timezone, 'Europe/Berlin');
    assert.equal((await api.request(alice, 'DELETE', '/v1/cron/a')).status, 204);
  });

  test("another owner's cron job is invisible: list, show, runs, pause, run and remove are 404", async () => {
    const created = await add(alice, {
      name: 'nightly',
      schedule: '0 0 1 1 *',
      timezone: 'Europe/Berlin',
    });
    assert.equal(created.status, 201);
    const cron = (await created.json()) as CronJob;
    assert.deepEqual(
      [cron.name, cron.timezone, cron.catchUp, cron.allowOverlap, cron.paused, cron.lastRunAt],
      ['nightly', 'Europe/Berlin', 'skip', false, false, null],
    );
    assert.ok(cron.id.startsWith('crn_'));
    // Midnight of January 1st in Berlin (winter: UTC+1) is 23:00 UTC on December 31st.
    assert.match(cron.nextRunAt ?? '', /-12-31T23:00:00\.000Z$/);
    for (const [method, path] of [
      ['GET', '/v1/cron/nightly'],
      ['GET', '/v1/cron/nightly/runs'],
      ['POST', '/v1/cron/nightly/pause'],
      ['POST', '/v1/cron/nightly/resume'],
      ['POST', '/v1/cron/nightly/run'],
      ['DELETE', '/v1/cron/nightly'],
    ] as const) {
      const response = await api.request(bob, method, path);
      const { error } = (await response.json()) as ErrorBody;
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal(error.code, 'cron_not_found');
    }
    const bobs = (await (await api.request(bob, 'GET', '/v1/cron')).json()) as {
      cronJobs: CronJob[];
    };
    assert.deepEqual(bobs.cronJobs, []);
    // bob's own of the same name is his, and alice's stays as it was.
    assert.equal((await add(bob, { name: 'nightly', schedule: '0 5 * * *' })).status, 201);
    const hers = (await (await api.request(alice, 'GET', '/v1/cron/nightly')).json()) as CronJob;
    assert.equal(hers.schedule, '0 0 1 1 *');
    assert.equal((await add(alice, { name: 'nightly', schedule: '0 4 * * *' })).status, 409);
    assert.equal((await api.request(bob, 'DELETE', '/v1/cron/nightly')).status, 204);
  });

  test("an owner's cron jobs are capped; removing one makes room", async () => {
    for (const name of ['c2', 'c3']) {
      assert.equal((await add(alice, { name, schedule: '0 0 1 1 *' })).status, 201);
    }
    const refused = await add(alice, { name: 'c4', schedule: '0 0 1 1 *' });
    const { error } = (await refused.json()) as ErrorBody;
    assert.equal(refused.status, 409);
    assert.equal(error.code, 'cron_limit');
    assert.match(error.message, /3 cron jobs, the most this server allows an owner \(3\)/);
    assert.equal((await add(bob, { name: 'c4', schedule: '0 0 1 1 *' })).status, 201, 'per owner');
    assert.equal((await api.request(alice, 'DELETE', '/v1/cron/c3')).status, 204);
    assert.equal((await add(alice, { name: 'c4', schedule: '0 0 1 1 *' })).status, 201);
  });

  test('pause clears the next time and resume sets it again; a manual run is a job', async () => {
    const paused = (await (
      await api.request(alice, 'POST', '/v1/cron/c2/pause')
    ).json()) as CronJob;
    assert.deepEqual([paused.paused, paused.nextRunAt], [true, null]);
    const resumed = (await (
      await api.request(alice, 'POST', '/v1/cron/c2/resume')
    ).json()) as CronJob;
    assert.equal(resumed.paused, false);
    assert.match(resumed.nextRunAt ?? '', /-01-01T00:00:00\.000Z$/);
    const response = await api.request(alice, 'POST', '/v1/cron/c2/run');
    assert.equal(response.status, 201);
    const run = (await response.json()) as CronRun;
    assert.deepEqual([run.status, run.trigger], ['started', 'manual']);
    assert.ok(run.jobId);
    const job = await api.services.jobs.wait('alice', run.jobId);
    assert.deepEqual([job.status, job.origin], ['succeeded', `cron:c2:${resumed.id}`]);
    const listed = (await (await api.request(alice, 'GET', '/v1/jobs')).json()) as {
      jobs: Array<{ id: string; origin: string | null }>;
    };
    assert.equal(
      listed.jobs.find((each) => each.id === run.jobId)?.origin,
      `cron:c2:${resumed.id}`,
    );
    const runs = (await (await api.request(alice, 'GET', '/v1/cron/c2/runs')).json()) as {
      runs: CronRun[];
    };
    assert.deepEqual(
      runs.runs.map((each) => [each.jobId, each.job?.status, each.job?.exitCode]),
      [[run.jobId, 'succeeded', 0]],
    );
  });
});
