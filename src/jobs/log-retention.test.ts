/**
 * Log retention against a real SQLite state database: the age rule with a moved clock, the
 * owner quota and the total over finished output, and a running job's log held to the quota.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, test } from 'node:test';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { JobRecord, StateRepository } from '../state/state-repository.ts';
import { JobLog } from './job-log.ts';
import { LogRetention } from './log-retention.ts';

const directory = await mkdtemp(join(tmpdir(), 'mags-retention-'));
after(() => rm(directory, { recursive: true, force: true }));
const day = 24 * 3600 * 1000;
const start = Date.parse('2026-03-01T00:00:00.000Z');
let repository: StateRepository;
let count = 0;

beforeEach(async () => {
  await repository?.close();
  repository = createSqliteStateRepository(join(directory, `state-${++count}.db`));
});
after(() => repository.close());

/** A finished job of `owner` that printed `bytes`, finished at `finishedAt` (ms). */
async function finishedJob(owner: string, bytes: number, finishedAt: number): Promise<string> {
  const id = `job_${owner}_${++count}`;
  await repository.insertJob(record(id, owner, 'succeeded', new Date(finishedAt).toISOString()));
  await repository.appendLog(id, [{ offset: 0, stream: 'stdout', data: Buffer.alloc(bytes) }]);
  return id;
}

const removedReason = async (owner: string, id: string) =>
  (await repository.getJob(owner, id))?.logsRemovedReason ?? null;

test('finished output older than the retention age is removed; the job says why', async () => {
  const retention = new LogRetention(repository, { maxAgeMs: 7 * day, now: () => start });
  const old = await finishedJob('alice', 100, start - 8 * day);
  const recent = await finishedJob('alice', 100, start - 6 * day);
  assert.deepEqual(await retention.enforce(), { jobs: 1, bytes: 100 });
  assert.match((await removedReason('alice', old)) ?? '', /older than 7 days/);
  assert.equal(await removedReason('alice', recent), null);
  assert.deepEqual(await repository.readLog(old, 0, 1024), []);
  // Two days later the other one is old too; a retention age of 0 keeps everything.
  assert.deepEqual(await new LogRetention(repository, { maxAgeMs: 0 }).enforce(), {
    jobs: 0,
    bytes: 0,
  });
  const later = new LogRetention(repository, { maxAgeMs: 7 * day, now: () => start + 2 * day });
  assert.equal((await later.enforce()).jobs, 1);
});

test("an owner over the quota loses their oldest finished output first, nobody else's", async () => {
  const retention = new LogRetention(repository, { maxOwnerBytes: 1000, now: () => start });
  const first = await finishedJob('alice', 400, start - 3000);
  const second = await finishedJob('alice', 400, start - 2000);
  const third = await finishedJob('alice', 400, start - 1000);
  const bobs = await finishedJob('bob', 900, start - 5000);
  assert.deepEqual(await retention.enforce(), { jobs: 1, bytes: 400 });
  assert.match((await removedReason('alice', first)) ?? '', /quota of 1000 B/);
  for (const id of [second, third]) assert.equal(await removedReason('alice', id), null);
  assert.equal(await removedReason('bob', bobs), null);
  assert.equal(await repository.storedLogBytes('alice'), 800);
});

test('the total over all owners is kept too, oldest finished first', async () => {
  const retention = new LogRetention(repository, { maxTotalBytes: 1000, now: () => start });
  const oldest = await finishedJob('bob', 600, start - 3000);
  await finishedJob('alice', 600, start - 2000);
  assert.deepEqual(await retention.enforce(), { jobs: 1, bytes: 600 });
  assert.match((await removedReason('bob', oldest)) ?? '', /server's stored output/);
});

test("a running job's output follows the owner quota: older output goes, then it is truncated", async () => {
  const quota = 1024 * 1024;
  const retention = new LogRetention(repository, { maxOwnerBytes: quota, now: () => start });
  const older = await finishedJob('alice', quota / 2, start - 2000);
  const bobs = await finishedJob('bob', quota / 2, start - 3000);
  await repository.insertJob(record('job_running', 'alice', 'running', null));
  const hooks = retention.forJob('alice');
  const log = new JobLog(repository, 'job_running', { flushDelayMs: 1, ...hooks });
  for (let written = 0; written < 2 * quota; written += 16 * 1024) {
    log.append('stdout', Buffer.alloc(16 * 1024, 'y'));
    await log.flush();
  }
  await log.finish();
  await retention.enforce(); // waits for the checks the flushes queued
  hooks.close();
  const chunks = await repository.readLog('job_running', 0, 4 * quota);
  const last = chunks.at(-1);
  assert.equal(last?.stream, 'stderr');
  assert.match(
    last?.data.toString() ?? '',
    /output truncated at 1048576 bytes \(your stored output reached its quota of 1.0 MiB\)/,
  );
  assert.equal(log.endOffset, quota + (last?.data.length ?? 0));
  assert.match((await removedReason('alice', older)) ?? '', /quota/);
  assert.equal(await removedReason('bob', bobs), null);
  assert.ok((await repository.storedLogBytes('alice')) <= quota + 200);
});

function record(
  id: string,
  owner: string,
  status: JobRecord['status'],
  finishedAt: string | null,
): JobRecord {
  return {
    id,
    owner,
    kind: 'run',
    sandbox: null,
    argv: ['true'],
    workspace: null,
    status,
    exitCode: status === 'succeeded' ? 0 : null,
    signal: null,
    reason: null,
    endReason: null,
    sandboxId: null,
    message: null,
    createdAt: new Date(start - day).toISOString(),
    startedAt: null,
    finishedAt,
    logBytes: 0,
    logsRemovedAt: null,
    logsRemovedReason: null,
  };
}
