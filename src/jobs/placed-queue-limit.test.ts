import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RateLimitError } from '../errors/mags-error.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { JobRecord } from '../state/state-repository.ts';
import { refuseFullPlacedQueue } from './placed-queue-limit.ts';

const directory = await mkdtemp(join(tmpdir(), 'mags-test-placed-queue-'));
const repository = createSqliteStateRepository(join(directory, 'state.db'));
after(async () => {
  await repository.close();
  await rm(directory, { recursive: true, force: true });
});

let seq = 0;
function queued(owner: string, host: string, status: JobRecord['status'] = 'queued'): JobRecord {
  seq++;
  return {
    id: `job-${seq}`,
    owner,
    kind: 'run',
    sandbox: null,
    argv: ['true'],
    workspace: null,
    status,
    exitCode: null,
    signal: null,
    reason: null,
    endReason: null,
    message: null,
    sandboxId: null,
    createdAt: new Date(Date.UTC(2026, 10, 30, 10, 0, seq)).toISOString(),
    startedAt: null,
    finishedAt: null,
    logBytes: 0,
    logsRemovedAt: null,
    logsRemovedReason: null,
    host,
    server: null,
  };
}

test("a run placed on a host where its owner's queue is full is a 429, as on that host", async () => {
  for (let index = 0; index < 3; index++) await repository.insertJob(queued('alice', 'h1'));
  // Neither another owner's, another host's, nor running jobs count.
  await repository.insertJob(queued('bob', 'h1'));
  await repository.insertJob(queued('alice', 'h2'));
  await repository.insertJob(queued('alice', 'h1', 'running'));
  await refuseFullPlacedQueue(repository, 'alice', 'h1', 4);
  await refuseFullPlacedQueue(repository, 'alice', 'h2', 2);
  await refuseFullPlacedQueue(repository, 'bob', 'h1', 2);
  await repository.insertJob(queued('alice', 'h1'));
  await assert.rejects(
    refuseFullPlacedQueue(repository, 'alice', 'h1', 4),
    (error: unknown) =>
      error instanceof RateLimitError &&
      error.statusCode === 429 &&
      error.limit === 'queued_jobs' &&
      /alice.*4 jobs queued on host h1/.test(error.message) &&
      Boolean(error.hint),
  );
  // Nothing queued there: nothing to refuse, whatever the limit.
  await refuseFullPlacedQueue(repository, 'carol', 'h1', 0);
});

test('the count goes past one page of the state', async () => {
  for (let index = 0; index < 450; index++) await repository.insertJob(queued('dave', 'h3'));
  for (let index = 0; index < 10; index++) await repository.insertJob(queued('dave', 'h4'));
  await refuseFullPlacedQueue(repository, 'dave', 'h3', 451);
  await assert.rejects(refuseFullPlacedQueue(repository, 'dave', 'h3', 450), RateLimitError);
});
