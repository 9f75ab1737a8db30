/**
 * The end of a job (recordLiveJobEnd) on a real SQLite state: its output is stored before its
 * end is written, and a follower its log's end wakes reads the end on the job's record.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { JobRecord, StateRepository } from '../state/state-repository.ts';
import { JobLog } from './job-log.ts';
import { recordLiveJobEnd } from './record-job-end.ts';

const server = 'srv-end-1';

function runningJob(id: string): JobRecord {
  const at = new Date().toISOString();
  return {
    id,
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
    message: null,
    sandboxId: null,
    createdAt: at,
    startedAt: at,
    finishedAt: null,
    logBytes: 0,
    logsRemovedAt: null,
    logsRemovedReason: null,
    host: null,
    server,
  };
}

const succeeded = (): Partial<JobRecord> => ({
  status: 'succeeded',
  exitCode: 0,
  endReason: 'exited',
  finishedAt: new Date().toISOString(),
});

async function storedText(repository: StateRepository, id: string): Promise<string> {
  const chunks = await repository.readLog(id, 0, 1 << 20);
  return Buffer.concat(chunks.map((chunk) => chunk.data)).toString();
}

describe('recording the end of a job', () => {
  let directory: string;
  let repository: StateRepository;
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mags-job-end-'));
    repository = createSqliteStateRepository(join(directory, 'state.db'));
  });
  after(async () => {
    await repository.close();
    await rm(directory, { recursive: true, force: true });
  });

  test('a follower the end of the log wakes reads the end on the record, not running', async () => {
    const record = runningJob('job-woken');
    await repository.insertJob(record);
    const log = new JobLog(repository, record.id);
    log.append('stdout', Buffer.from('all of it\n'));
    // As a follower that has read everything (remote-jobs.ts readJobLog) waits for more or the
    // end; what it reads next (`JobManager.get`: the live record) must already be the end. The
    // order is the code's, not timing's: the record was updated only microtasks after the wake.
    const seen = log
      .waitBeyond(log.endOffset)
      .then(() => ({ finished: log.finished, status: record.status }));
    await recordLiveJobEnd({
      repository,
      cluster: undefined,
      server,
      record,
      log,
      end: succeeded(),
      changed: () => {},
    });
    assert.deepEqual(await seen, { finished: true, status: 'succeeded' });
    assert.equal(record.logBytes, 'all of it\n'.length);
  });

  test('its end is written after all of its output is stored, however slow the store', async () => {
    const record = runningJob('job-slow-store');
    await repository.insertJob(record);
    // The real state with each batch of output taking 30 ms to land (a busy PostgreSQL, a slow
    // disk): what the state holds when the end is written is captured as the end is written.
    let storedAtEnd: { status: string | undefined; text: string } | undefined;
    const slow: StateRepository = {
      ...repository,
      appendLog: async (id, chunks) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        await repository.appendLog(id, chunks);
      },
      updateUnfinishedJob: async (id, owner, update) => {
        storedAtEnd = {
          status: (await repository.getJob('alice', id))?.status,
          text: await storedText(repository, id),
        };
        return repository.updateUnfinishedJob(id, owner, update);
      },
    };
    const log = new JobLog(slow, record.id, { flushDelayMs: 1 });
    const lines = Array.from({ length: 20 }, (_, index) => `${index + 1}\n`);
    for (const [index, line] of lines.entries()) {
      log.append('stdout', Buffer.from(line));
      // A batch on its way to the state while more output comes, as the job's last lines do.
      if (index === 9) void log.flush();
    }
    await recordLiveJobEnd({
      repository: slow,
      cluster: undefined,
      server,
      record,
      log,
      end: succeeded(),
      changed: () => {},
    });
    assert.deepEqual(storedAtEnd, { status: 'running', text: lines.join('') });
    const ended = await repository.getJob('alice', record.id);
    assert.equal(ended?.status, 'succeeded');
    assert.equal(ended?.logBytes, lines.join('').length);
  });
});
