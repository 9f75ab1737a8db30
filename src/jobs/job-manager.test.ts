/**
 * JobManager on the fake runtime (any user, no root): run and exec jobs, the queue and the
 * per-owner limits, stop, timeout, delete, and how stored output meets log retention.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { waitUntil } from '../../test/helpers/server-process.ts';
import { createTestContext, type FakeTestContext } from '../../test/helpers/test-context.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { JobRecord, StateRepository } from '../state/state-repository.ts';
import { JobManager } from './job-manager.ts';
import type { JobManagerOptions } from './job-manager-options.ts';
import { LogRetention } from './log-retention.ts';
import { UploadStore } from './upload-store.ts';

const sh = (script: string) => ['/bin/sh', '-c', script];

describe('JobManager on the fake runtime', () => {
  let fake: FakeTestContext;
  let repository: StateRepository;
  const managers: JobManager[] = [];
  before(async () => {
    fake = await createTestContext();
    repository = createSqliteStateRepository(join(fake.home, 'state.db'));
  });
  after(async () => {
    await Promise.all(managers.map((jobs) => jobs.shutdown()));
    await repository.close();
    await fake.cleanup();
  });

  const manager = (options: Partial<JobManagerOptions> = {}) => {
    const jobs = new JobManager({
      context: fake.context,
      repository,
      killGraceMs: 100,
      ...options,
    });
    managers.push(jobs);
    return jobs;
  };
  const output = async (jobs: JobManager, owner: string, id: string) => {
    const streams = { stdout: '', stderr: '' };
    for await (const chunk of jobs.readLog(owner, id, { offset: 0, follow: false })) {
      streams[chunk.stream] += chunk.data.toString();
    }
    return streams;
  };
  const running = (jobs: JobManager, owner: string, id: string) =>
    waitUntil(async () => (await jobs.get(owner, id)).status === 'running', 10_000);

  test('a run job is queued, then stores its output, streams apart, and its exit code', async () => {
    const jobs = manager();
    const submitted = await jobs.submitRun('alice', { argv: sh('echo out; echo err >&2; exit 3') });
    assert.equal(submitted.status, 'queued');
    const done = await jobs.wait('alice', submitted.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.exitCode, 3);
    assert.equal(done.reason, 'exited with code 3');
    assert.deepEqual(await output(jobs, 'alice', submitted.id), {
      stdout: 'out\n',
      stderr: 'err\n',
    });
    const stored = await repository.getJob('alice', submitted.id);
    assert.equal(stored?.status, 'failed');
    assert.equal(stored?.logBytes, 'out\nerr\n'.length);
    const ok = await jobs.submitRun('alice', { argv: ['true'] });
    assert.equal((await jobs.wait('alice', ok.id)).status, 'succeeded');
  });

  test("a workspace keeps a run's writes for the next; owners' workspaces of one name are apart", async () => {
    const jobs = manager();
    const write = await jobs.submitRun('alice', { argv: sh('echo alice > note'), workspace: 'w' });
    assert.equal((await jobs.wait('alice', write.id)).status, 'succeeded');
    const read = await jobs.submitRun('alice', { argv: sh('cat note'), workspace: 'w' });
    await jobs.wait('alice', read.id);
    assert.equal((await output(jobs, 'alice', read.id)).stdout, 'alice\n');
    const bob = await jobs.submitRun('bob', { argv: sh('cat note'), workspace: 'w' });
    assert.equal((await jobs.wait('bob', bob.id)).status, 'failed');
    const base = await jobs.submitRun('alice', { argv: sh('cat note; echo x > note'), base: 'w' });
    await jobs.wait('alice', base.id);
    const again = await jobs.submitRun('alice', { argv: sh('cat note'), workspace: 'w' });
    await jobs.wait('alice', again.id);
    assert.equal((await output(jobs, 'alice', again.id)).stdout, 'alice\n', 'base is read-only');
  });

  test('a second writer of a workspace is refused while the first runs', async () => {
    const jobs = manager();
    const first = await jobs.submitRun('alice', { argv: ['sleep', '30'], workspace: 'busy' });
    await running(jobs, 'alice', first.id);
    await assert.rejects(jobs.submitRun('alice', { argv: ['true'], workspace: 'busy' }), {
      code: 'workspace_busy',
    });
    const reader = await jobs.submitRun('alice', { argv: ['true'], base: 'busy' });
    const refused = await jobs.wait('alice', reader.id);
    assert.equal(refused.status, 'failed', 'the writer holds it');
    assert.equal(refused.reason, 'Workspace "busy" is in use by another run.', 'in its own name');
    assert.equal((await jobs.stop('alice', first.id)).status, 'stopped');
  });

  test('one writer per workspace across two servers on one state: of two at once, one is refused', async () => {
    const [here, there] = [manager(), manager()];
    const submitted = await Promise.allSettled(
      [here, there].map((jobs) =>
        jobs.submitRun('alice', { argv: ['sleep', '30'], workspace: 'shared' }),
      ),
    );
    const accepted = submitted.flatMap((result, index) =>
      result.status === 'fulfilled'
        ? [{ jobs: [here, there][index] as JobManager, job: result.value }]
        : [],
    );
    assert.equal(accepted.length, 1, 'one writer is accepted');
    const refused = submitted.find((result) => result.status === 'rejected');
    assert.equal(refused?.reason?.code, 'workspace_busy');
    assert.match(refused?.reason?.message, new RegExp(`in use by job ${accepted[0]?.job.id}`));
    const { jobs, job } = accepted[0] as { jobs: JobManager; job: JobRecord };
    assert.equal((await jobs.stop('alice', job.id)).status, 'stopped');
    const next = await there.submitRun('alice', { argv: ['true'], workspace: 'shared' });
    assert.equal((await there.wait('alice', next.id)).status, 'succeeded', 'free once it ended');
  });

  test('an exec job runs in the given sandbox and ends with its exit code', async () => {
    const jobs = manager();
    const sandbox = await fake.runtime.start({
      id: 'exec-target',
      image: { name: 'default' },
      limits: fake.context.defaults.limits,
      network: { egress: 'none' },
    });
    const submitted = await jobs.submitExec(
      'alice',
      'dev',
      { argv: sh('pwd; exit 4') },
      (request) => sandbox.exec(request),
    );
    assert.equal(submitted.status, 'running', 'an exec does not queue');
    const done = await jobs.wait('alice', submitted.id);
    assert.equal(done.exitCode, 4);
    assert.equal(done.sandbox, 'dev');
    assert.equal(
      (await output(jobs, 'alice', submitted.id)).stdout,
      `${sandbox.workspaceDirectory}\n`,
    );
    const missing = await jobs.submitExec(
      'alice',
      'dev',
      { argv: ['/no/such/program'] },
      (request) => sandbox.exec(request),
    );
    const failed = await jobs.wait('alice', missing.id);
    assert.equal(failed.exitCode, 127);
    assert.match(failed.reason ?? '', /could not start/);
    await sandbox.stop();
  });

  test('beyond maxConcurrentJobs runs wait queued; stopping a queued job never runs it', async () => {
    const jobs = manager({ maxConcurrentJobs: 1 });
    const first = await jobs.submitRun('alice', { argv: ['sleep', '30'] });
    await running(jobs, 'alice', first.id);
    const second = await jobs.submitRun('bob', { argv: sh('echo second') });
    const third = await jobs.submitRun('carol', { argv: ['true'] });
    assert.equal((await jobs.get('bob', second.id)).status, 'queued');
    assert.deepEqual(jobs.counts, { running: 1, queued: 2, maxConcurrent: 1 });
    const stoppedQueued = await jobs.stop('carol', third.id);
    assert.equal(stoppedQueued.status, 'stopped');
    assert.equal(stoppedQueued.startedAt, null);
    const stopped = await jobs.stop('alice', first.id);
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.reason, 'stopped on request');
    assert.equal((await jobs.wait('bob', second.id)).status, 'succeeded');
    assert.deepEqual(jobs.counts, { running: 0, queued: 0, maxConcurrent: 1 });
  });

  test("an owner over their running limit waits, over their queue limit is refused; others' jobs run", async () => {
    const jobs = manager({ maxJobsPerOwner: 1, maxQueuedJobsPerOwner: 1 });
    const first = await jobs.submitRun('alice', { argv: ['sleep', '30'] });
    await running(jobs, 'alice', first.id);
    const waiting = await jobs.submitRun('alice', { argv: ['true'] });
    await assert.rejects(jobs.submitRun('alice', { argv: ['true'] }), { statusCode: 429 });
    assert.deepEqual(jobs.countsFor('alice'), { running: 1, queued: 1 });
    const bob = await jobs.submitRun('bob', { argv: ['true'] });
    assert.equal((await jobs.wait('bob', bob.id)).status, 'succeeded');
    assert.equal((await jobs.get('alice', waiting.id)).status, 'queued');
    await jobs.stop('alice', first.id);
    assert.equal((await jobs.wait('alice', waiting.id)).status, 'succeeded');
  });

  test('a timeout ends the command, and the sandbox when it ignores SIGTERM', async () => {
    const jobs = manager();
    const polite = await jobs.submitRun('alice', { argv: ['sleep', '30'], timeoutSeconds: 0.2 });
    const politeDone = await jobs.wait('alice', polite.id);
    assert.equal(politeDone.status, 'failed');
    assert.equal(politeDone.reason, 'timed out');
    assert.equal(politeDone.signal, 'SIGTERM');
    const stubborn = await jobs.submitRun('alice', {
      argv: sh("trap '' TERM; sleep 30 & wait; sleep 30"),
      timeoutSeconds: 0.2,
    });
    const stubbornDone = await jobs.wait('alice', stubborn.id);
    assert.equal(stubbornDone.reason, 'timed out');
    assert.equal(fake.runtime.running.size, 0, 'the sandbox went with it');
  });

  test('the stored options are one shape: the request with the defaults filled in, no env', async () => {
    const jobs = manager({ instance: { host: 'h1', server: 's1' } });
    const submitted = await jobs.submitRun('alice', {
      argv: ['true'],
      workspace: 'opts',
      env: { SECRET: 'x' },
      limits: { memoryMiB: 300 },
    });
    await jobs.wait('alice', submitted.id);
    const stored = await repository.getJob('alice', submitted.id);
    assert.deepEqual([stored?.host, stored?.server], ['h1', 's1']);
    const defaults = fake.context.defaults;
    assert.deepEqual(stored?.runOptions, {
      workspace: 'opts',
      limits: { ...defaults.limits, memoryMiB: 300 },
      image: defaults.image,
      runtime: 'fake',
      network: false,
      timeoutSeconds: defaults.timeoutMs / 1000,
    });
    assert.equal(stored?.runtime, 'fake', 'the job records the runtime it ran on');
    assert.equal(stored?.endReason, 'exited');
    assert.notEqual(stored?.sandboxId, null, 'its sandbox is named');
  });

  test("a job recovery cannot continue ends 'failed' with the reason as its message", async () => {
    const jobs = manager();
    const now = new Date().toISOString();
    await repository.insertJob({
      id: 'job_left',
      owner: 'alice',
      kind: 'run',
      sandbox: null,
      argv: ['true'],
      workspace: null,
      status: 'running',
      exitCode: null,
      signal: null,
      reason: null,
      endReason: null,
      sandboxId: 'run-gone',
      message: null,
      createdAt: now,
      startedAt: now,
      finishedAt: null,
      logBytes: 0,
      logsRemovedAt: null,
      logsRemovedReason: null,
    });
    const left = (await repository.getJob('alice', 'job_left')) as JobRecord;
    await jobs.failAdopted(left, 'its sandbox ended while no server was running');
    const failed = await jobs.get('alice', 'job_left');
    assert.deepEqual(
      [failed.status, failed.endReason, failed.reason, failed.message],
      [
        'failed',
        'failed',
        'its sandbox ended while no server was running',
        'its sandbox ended while no server was running',
      ],
    );
    assert.equal(
      (await output(jobs, 'alice', 'job_left')).stderr,
      'mags: its sandbox ended while no server was running\n',
    );
  });

  test('an upload serves the one job that named it first: a second job naming it is a 404', async () => {
    const uploads = new UploadStore({ directory: join(fake.home, 'uploads-claim') });
    const jobs = manager({ uploads });
    const upload = await uploads.receive('alice', Readable.from([Buffer.from('payload')]));
    const files = [{ upload: upload.id, name: 'in.txt' }];
    // Queued behind nothing, the first job has claimed the file by the time submitRun returns.
    const first = await jobs.submitRun('alice', { argv: ['cat', 'in.txt'], files });
    await assert.rejects(jobs.submitRun('alice', { argv: ['cat', 'in.txt'], files }), {
      code: 'upload_not_found',
      statusCode: 404,
    });
    assert.equal(jobs.countsFor('alice').queued + jobs.countsFor('alice').running, 1);
    const done = await jobs.wait('alice', first.id);
    assert.equal(done.exitCode, 0);
    assert.equal((await output(jobs, 'alice', first.id)).stdout, 'payload');
  });

  test('kill stops a run at once: its sandbox goes without the grace period', async () => {
    // A grace period no test waits for: only kill can end this run in time.
    const jobs = manager({ killGraceMs: 60_000 });
    const submitted = await jobs.submitRun('alice', {
      argv: sh("trap '' TERM; echo up; sleep 30 & wait; sleep 30"),
    });
    await waitUntil(
      async () => (await output(jobs, 'alice', submitted.id)).stdout === 'up\n',
      10_000,
    );
    const killed = await jobs.kill('alice', submitted.id);
    assert.equal(killed.status, 'stopped');
    assert.equal(killed.endReason, 'stopped');
    assert.equal(fake.runtime.running.size, 0, 'its sandbox is gone');
  });

  test('delete: a running job is refused, a foreign one is not found, a finished one goes', async () => {
    const jobs = manager();
    const busy = await jobs.submitRun('alice', { argv: ['sleep', '30'] });
    await running(jobs, 'alice', busy.id);
    await assert.rejects(jobs.delete('alice', busy.id), { code: 'job_not_finished' });
    await jobs.stop('alice', busy.id);
    await assert.rejects(jobs.delete('bob', busy.id), { statusCode: 404 });
    await jobs.delete('alice', busy.id);
    await assert.rejects(jobs.get('alice', busy.id), { statusCode: 404 });
    assert.equal(await repository.getJob('alice', busy.id), undefined);
  });

  test("finished output is removed past the owner's quota, oldest first; a running job is truncated", async () => {
    const retention = new LogRetention(repository, { maxOwnerBytes: 3000, maxAgeMs: 0 });
    const jobs = manager({ retention });
    const print = (bytes: number) => sh(`head -c ${bytes} /dev/zero | tr '\\0' x`);
    const old = await jobs.submitRun('dave', { argv: print(2000) });
    await jobs.wait('dave', old.id);
    const recent = await jobs.submitRun('dave', { argv: print(2000) });
    await jobs.wait('dave', recent.id);
    await retention.enforce();
    const oldRecord = await jobs.get('dave', old.id);
    assert.match(oldRecord.logsRemovedReason ?? '', /quota/);
    assert.deepEqual(await output(jobs, 'dave', old.id), { stdout: '', stderr: '' });
    assert.equal((await output(jobs, 'dave', recent.id)).stdout.length, 2000);
    const flood = await jobs.submitRun('dave', { argv: print(10_000) });
    await jobs.wait('dave', flood.id);
    const flooded = await output(jobs, 'dave', flood.id);
    assert.ok(flooded.stdout.length < 10_000, `${flooded.stdout.length} bytes kept`);
    assert.match(flooded.stdout + flooded.stderr, /output truncated/);
  });
});
