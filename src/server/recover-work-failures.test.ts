/**
 * Recovery after a restart goes on past a job or sandbox it cannot handle: the failure is
 * logged and recorded on that item, the others are recovered, and the server starts. On the
 * fake runtime (root-free): the gone server's sandboxes are gone, so its jobs are failed and its
 * sandboxes marked stopped; one of each throws along the way.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestContext, type FakeTestContext } from '../../test/helpers/test-context.ts';
import { currentServerInstance } from '../config/server-instance.ts';
import { JobManager } from '../jobs/job-manager.ts';
import { newJob } from '../jobs/new-job.ts';
import type { Sandbox } from '../runtimes/runtime.ts';
import { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { JobRecord, SandboxRecord, StateRepository } from '../state/state-repository.ts';
import { recoverWork, recoveryFailedReason, sandboxGoneReason } from './recover-work.ts';

describe('recoverWork: one failure does not stop the rest', () => {
  let fake: FakeTestContext;
  let repository: StateRepository;
  before(async () => {
    fake = await createTestContext();
    repository = createSqliteStateRepository(join(fake.home, 'state.db'));
  });
  after(async () => {
    await repository.close();
    await fake.cleanup();
  });

  test('a job and a sandbox that throw are logged and recorded; the others are recovered', async () => {
    const instance = currentServerInstance();
    // A server of this host that is gone (another boot): its work is ours to take over.
    const gone = { host: instance.host, server: 'otherboot:1:1' };
    const now = new Date().toISOString();
    const jobRecords: JobRecord[] = ['first', 'flaky', 'last'].map((name) => ({
      ...newJob('alice', 'run', ['echo', name], null, null, 'fake'),
      ...gone,
      status: 'running',
      startedAt: now,
    }));
    for (const record of jobRecords) await repository.insertJob(record);
    const sandboxRecords: SandboxRecord[] = ['dev', 'flaky'].map((name) => ({
      owner: 'alice',
      name,
      runtimeId: `run-${name}`,
      workspace: null,
      status: 'running',
      options: {},
      reason: null,
      createdAt: now,
      lastActiveAt: now,
      ...gone,
    }));
    for (const record of sandboxRecords) await repository.upsertSandbox(record);
    const flakyJob = jobRecords[1] as JobRecord;

    let jobThrew = false;
    class FlakyJobs extends JobManager {
      override async failAdopted(record: JobRecord, reason: string, sandbox?: Sandbox) {
        if (record.id === flakyJob.id && !jobThrew) {
          jobThrew = true;
          throw new Error('the database was busy');
        }
        return super.failAdopted(record, reason, sandbox);
      }
    }
    class FlakySandboxes extends SandboxManager {
      override async markGone(record: SandboxRecord, reason: string) {
        if (record.name === 'flaky') throw new Error('the disk is read-only');
        return super.markGone(record, reason);
      }
    }
    const jobs = new FlakyJobs({ context: fake.context, repository });
    const sandboxes = new FlakySandboxes({ context: fake.context, repository, sleepAfterMs: 0 });
    const lines: string[] = [];
    const report = await recoverWork({
      context: fake.context,
      repository,
      jobs,
      sandboxes,
      instance,
      log: (line) => lines.push(line),
    });

    assert.equal(report.failures, 2);
    assert.equal(report.jobsFailed, 2);
    assert.equal(report.sandboxesGone, 1);
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines.join('\n'), /job .*the database was busy/);
    assert.match(lines.join('\n'), /sandbox alice\/flaky.*the disk is read-only/);
    // Every job is failed: the flaky one with why its recovery failed.
    for (const record of jobRecords) {
      const stored = await repository.getJob('alice', record.id);
      assert.equal(stored?.status, 'failed', record.argv[1]);
      assert.equal(
        stored?.reason,
        record.id === flakyJob.id
          ? recoveryFailedReason('the database was busy')
          : sandboxGoneReason,
      );
    }
    assert.equal((await repository.getSandbox('alice', 'dev'))?.status, 'stopped');
    await jobs.shutdown();
    await sandboxes.shutdown();
  });
});
