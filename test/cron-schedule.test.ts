/**
 * Cron jobs firing, in-process on the fake runtime (commands are host processes; the job system,
 * the workspaces and their sync to the object store are the real ones): a per-second schedule
 * fires at the second it names and its run is an ordinary job with the command's output; a slow
 * command is never overlapped (the times it covers are skipped runs with the reason) unless
 * allowOverlap; a manual run obeys the same rule; a workspace with persist carries a file from one
 * run to the next and is synced after each; removing a cron job leaves its run to finish, or
 * stops it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CronJob, CronRun } from '../src/api/cron.ts';
import type { JobRecord } from '../src/state/state-repository.ts';
import { waitUntil } from './helpers/server-process.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

describe('cron jobs fire on their schedule (fake runtime)', () => {
  let api: TestApp;
  let alice: string;
  before(async () => {
    api = await createTestApp({ cron: { minIntervalSeconds: 0 } });
    alice = (await api.token('alice')).token;
  });
  after(() => api.close());

  async function add(body: Record<string, unknown>): Promise<CronJob> {
    const response = await api.request(alice, 'POST', '/v1/cron', body);
    assert.equal(response.status, 201, await response.clone().text());
    return (await response.json()) as CronJob;
  }
  async function runs(name: string): Promise<CronRun[]> {
    const response = await api.request(alice, 'GET', `/v1/cron/${name}/runs?limit=500`);
    return ((await response.json()) as { runs: CronRun[] }).runs.reverse();
  }
  async function output(jobId: string): Promise<string> {
    let text = '';
    for await (const chunk of api.services.jobs.readLog('alice', jobId, {
      offset: 0,
      follow: true,
    })) {
      text += chunk.data.toString();
    }
    return text;
  }

  test('a per-second schedule fires at the second it names; its run is a job with the output', async () => {
    const second = (new Date().getUTCSeconds() + 3) % 60;
    await add({ name: 'named-second', schedule: `${second} * * * * *`, command: 'echo fired' });
    await waitUntil(async () => (await runs('named-second')).length > 0, 10_000);
    const [run] = await runs('named-second');
    assert.ok(run?.jobId, JSON.stringify(run));
    assert.deepEqual([run.status, run.trigger], ['started', 'schedule']);
    const scheduled = new Date(run.scheduledAt);
    assert.deepEqual([scheduled.getUTCSeconds(), scheduled.getUTCMilliseconds()], [second, 0]);
    assert.ok(run.at >= run.scheduledAt, 'handled at or after its time, never before');
    const job = await api.services.jobs.wait('alice', run.jobId);
    assert.deepEqual([job.status, job.exitCode], ['succeeded', 0]);
    assert.match(job.origin ?? '', /^cron:named-second:crn_/, 'the name, and the id');
    assert.equal(await output(run.jobId), 'fired\n');
    const cron = (await (
      await api.request(alice, 'GET', '/v1/cron/named-second')
    ).json()) as CronJob;
    assert.equal(cron.lastRunAt, run.scheduledAt);
    assert.ok((cron.nextRunAt ?? '') > run.scheduledAt);
    await api.request(alice, 'DELETE', '/v1/cron/named-second');
  });

  test('a command slower than the interval is never overlapped: the times it covers are skipped', async () => {
    await add({ name: 'slow', schedule: '* * * * * *', command: 'sleep 2.2' });
    await waitUntil(
      async () => (await runs('slow')).filter((run) => run.status === 'started').length >= 2,
      15_000,
    );
    await api.request(alice, 'POST', '/v1/cron/slow/pause');
    const all = await runs('slow');
    const started = all.filter((run) => run.status === 'started');
    const skipped = all.filter((run) => run.status === 'skipped');
    assert.ok(skipped.length >= 1, JSON.stringify(all));
    for (const run of skipped) {
      assert.match(run.reason ?? '', /^the run of \S+Z \(job job_\S+\) is still running$/);
      assert.equal(run.jobId, null);
    }
    const jobs = await Promise.all(
      started.map((run) => api.services.jobs.wait('alice', run.jobId as string)),
    );
    assertNoOverlap(jobs);
    // Each scheduled second is handled once.
    const times = all.map((run) => run.scheduledAt);
    assert.equal(new Set(times).size, times.length);
  });

  test('allowOverlap starts a run while the previous one still runs', async () => {
    await add({
      name: 'overlapping',
      schedule: '* * * * * *',
      command: 'sleep 2.2',
      allowOverlap: true,
    });
    await waitUntil(
      async () => (await runs('overlapping')).filter((run) => run.jobId).length >= 3,
      15_000,
    );
    await api.request(alice, 'POST', '/v1/cron/overlapping/pause');
    const all = await runs('overlapping');
    assert.deepEqual(
      all.filter((run) => run.status !== 'started'),
      [],
    );
    const jobs = await Promise.all(
      all.map((run) => api.services.jobs.wait('alice', run.jobId as string)),
    );
    const [first, second] = jobs;
    assert.ok(first && second);
    assert.ok(
      (second.startedAt ?? '') < (first.finishedAt ?? ''),
      'the second run started before the first ended',
    );
  });

  test('a manual run obeys the same rule; remove leaves the running job, --stop stops it', async () => {
    await add({ name: 'manual', schedule: '0 3 1 1 *', command: 'sleep 30' });
    const first = (await (
      await api.request(alice, 'POST', '/v1/cron/manual/run')
    ).json()) as CronRun;
    assert.equal(first.status, 'started');
    const second = (await (
      await api.request(alice, 'POST', '/v1/cron/manual/run')
    ).json()) as CronRun;
    assert.equal(second.status, 'skipped');
    assert.match(
      second.reason ?? '',
      new RegExp(`^the manual run of \\S+ \\(job ${first.jobId}\\) is still (queued|running)$`),
    );
    // Removed without --stop: its job goes on.
    assert.equal((await api.request(alice, 'DELETE', '/v1/cron/manual')).status, 204);
    assert.equal((await api.request(alice, 'GET', '/v1/cron/manual')).status, 404);
    const job = await api.services.jobs.get('alice', first.jobId as string);
    assert.ok(['queued', 'running'].includes(job.status), job.status);
    await api.services.jobs.stop('alice', job.id);
    // With stop=true: stopped.
    await add({ name: 'manual', schedule: '0 3 1 1 *', command: 'sleep 30' });
    const again = (await (
      await api.request(alice, 'POST', '/v1/cron/manual/run')
    ).json()) as CronRun;
    assert.equal((await api.request(alice, 'DELETE', '/v1/cron/manual?stop=true')).status, 204);
    const stopped = await api.services.jobs.wait('alice', again.jobId as string);
    assert.equal(stopped.status, 'stopped');
  });

  test('-w with -p: a file written by a run is seen by the next, and each run syncs the workspace', async () => {
    // The fake runtime runs a command in its workspace's directory: `count` is /workspace/count.
    const command = 'n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count; echo $n';
    await add({
      name: 'counter',
      schedule: '* * * * * *',
      command,
      workspace: 'counted',
      persist: true,
    });
    // A run is claimed before its job is submitted (a persistent workspace's job can take a moment
    // to be accepted): the runs counted are those whose job is recorded.
    const withJob = (run: CronRun) => run.status === 'started' && run.jobId !== null;
    await waitUntil(async () => (await runs('counter')).filter(withJob).length >= 3, 15_000);
    await api.request(alice, 'POST', '/v1/cron/counter/pause');
    const started = (await runs('counter')).filter(withJob);
    const outputs: string[] = [];
    for (const run of started.slice(0, 3)) {
      const job = await api.services.jobs.wait('alice', run.jobId as string);
      assert.equal(job.status, 'succeeded', job.message ?? '');
      assert.match(job.message ?? '', /sync/i, 'the run says it synced the workspace');
      outputs.push((await output(job.id)).trim());
    }
    assert.deepEqual(outputs, ['1', '2', '3']);
    const versions = (await (
      await api.request(alice, 'GET', '/v1/workspaces/counted/versions')
    ).json()) as { versions: unknown[] };
    assert.ok(versions.versions.length >= 3, JSON.stringify(versions));
  });
});

/** No two of these jobs ran at the same time. */
function assertNoOverlap(jobs: JobRecord[]): void {
  const spans = jobs
    .map((job) => [job.startedAt ?? job.createdAt, job.finishedAt ?? ''] as const)
    .sort((a, b) => a[0].localeCompare(b[0]));
  for (let index = 1; index < spans.length; index++) {
    const [start] = spans[index] as readonly [string, string];
    const [, previousEnd] = spans[index - 1] as readonly [string, string];
    assert.ok(
      start >= previousEnd,
      `a run started at ${start}, before the previous ended at ${previousEnd}`,
    );
  }
}
