/**
 * A job the job system fails after a restart (or deletes, failed) releases the durable command
 * its sandbox may still keep (`Sandbox.forgetExec`), on a runtime whose sandboxes outlive their
 * server (capability reattach) only, and never lets a failed release fail the job. The fake
 * runtime does not outlive its process, so here it declares reattach and the sandbox is a
 * recording stand-in; the real agent's FORGET is tested in src/guest/agent-reconnect.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestContext, type FakeTestContext } from '../../test/helpers/test-context.ts';
import type { MagsContext } from '../context/mags-context.ts';
import type { Runtime, Sandbox } from '../runtimes/runtime.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { JobRecord, StateRepository } from '../state/state-repository.ts';
import { JobManager } from './job-manager.ts';
import { newJob } from './new-job.ts';

describe('releasing commands nobody will resume', () => {
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

  /** The fake context, its runtime declaring `reattach` as given. */
  const contextWith = (reattach: boolean): MagsContext => {
    const runtime: Runtime = Object.create(fake.context.runtime);
    Object.defineProperty(runtime, 'capabilities', {
      value: { ...fake.context.runtime.capabilities, reattach },
    });
    return { ...fake.context, runtime, runtimes: { [runtime.name]: runtime } };
  };
  /** A sandbox that records what it is asked to forget (or fails to). */
  const keeper = (fails = false) => {
    const forgotten: string[] = [];
    const sandbox = {
      id: 'sandbox-1',
      forgetExec: async (key: string) => {
        if (fails) throw new Error('the agent is gone');
        forgotten.push(key);
        return true;
      },
    } as unknown as Sandbox;
    return { sandbox, forgotten };
  };
  const leftRunning = async (kind: JobRecord['kind']) => {
    const record: JobRecord = {
      ...newJob('alice', kind, ['sleep', '30'], null, kind === 'exec' ? 'dev' : null, 'fake'),
      status: 'running',
      startedAt: new Date().toISOString(),
    };
    await repository.insertJob(record);
    return record;
  };

  test('failAdopted releases the command in the sandbox that keeps it', async () => {
    const jobs = new JobManager({ context: contextWith(true), repository });
    const { sandbox, forgotten } = keeper();
    const record = await leftRunning('exec');
    await jobs.failAdopted(record, 'what it recorded cannot be read', sandbox);
    assert.deepEqual(forgotten, [record.id]);
    assert.equal((await jobs.get('alice', record.id)).endReason, 'failed');
  });

  test('without reattach nothing is released (the command ended with its server)', async () => {
    const jobs = new JobManager({ context: contextWith(false), repository });
    const { sandbox, forgotten } = keeper();
    const record = await leftRunning('exec');
    await jobs.failAdopted(record, 'gone', sandbox);
    assert.deepEqual(forgotten, []);
  });

  test('a release that fails does not fail the job system', async () => {
    const jobs = new JobManager({ context: contextWith(true), repository });
    const record = await leftRunning('exec');
    await jobs.failAdopted(record, 'gone', keeper(true).sandbox);
    assert.equal((await jobs.get('alice', record.id)).status, 'failed');
  });

  test('deleting a failed exec job releases its command in its sandbox; a finished one asks nothing', async () => {
    const { sandbox, forgotten } = keeper();
    const uses: string[] = [];
    let released = 0;
    const jobs = new JobManager({
      context: contextWith(true),
      repository,
      execSandboxes: {
        use: async (owner, name) => {
          uses.push(`${owner}/${name}`);
          return { sandbox, release: () => void released++ };
        },
      },
    });
    const failed = await leftRunning('exec');
    await jobs.failAdopted(failed, 'the server stopped just as the command ended');
    assert.deepEqual(forgotten, [], 'no sandbox given: nothing yet');
    await jobs.delete('alice', failed.id);
    assert.deepEqual([uses, forgotten, released], [['alice/dev'], [failed.id], 1]);

    const ended = await leftRunning('exec');
    await repository.updateJob(ended.id, {
      status: 'succeeded',
      endReason: 'exited',
      exitCode: 0,
      finishedAt: new Date().toISOString(),
    });
    await jobs.delete('alice', ended.id);
    assert.deepEqual(uses, ['alice/dev'], 'its end was delivered: the agent keeps nothing');
  });
});
