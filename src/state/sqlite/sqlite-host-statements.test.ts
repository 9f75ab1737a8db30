import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { createSqliteStateRepository } from './sqlite-state-repository.ts';

const directory = await mkdtemp(join(tmpdir(), 'mags-hosts-'));
after(() => rm(directory, { recursive: true, force: true }));

// The contract's race runs two repositories in one thread, whose synchronous statements take
// turns at each await. Here each claimer is a thread of its own with its own connection, so the
// claims really overlap and meet SQLite's write lock (busy_timeout), as two processes' would.
const claimer = `
  const { workerData, parentPort } = require('node:worker_threads');
  const { createSqliteStateRepository } = await import(workerData.module);
  const state = createSqliteStateRepository(workerData.path);
  const taken = [];
  for (;;) {
    const claimed = await state.claimQueuedJobs('h-race', workerData.server, 2);
    if (claimed.length === 0) break;
    for (const job of claimed) taken.push(job.id);
  }
  await state.close();
  parentPort.postMessage(taken);
`;

function claimInThread(path: string, server: string): Promise<string[]> {
  const module = new URL('./sqlite-state-repository.ts', import.meta.url).href;
  const worker = new Worker(`(async () => {${claimer}})()`, {
    eval: true,
    workerData: { path, server, module },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`claimer exited with ${code}`)));
  });
}

test('claimers in two threads on one SQLite file take each queued job exactly once', async () => {
  const path = join(directory, 'race.db');
  const state = createSqliteStateRepository(path);
  const ids = Array.from({ length: 200 }, (_, index) => `race-${String(index).padStart(3, '0')}`);
  for (const [index, id] of ids.entries()) {
    await state.insertJob({
      id,
      owner: 'alice',
      kind: 'run',
      sandbox: null,
      argv: ['true'],
      workspace: null,
      status: 'queued',
      exitCode: null,
      signal: null,
      reason: null,
      endReason: null,
      message: null,
      sandboxId: null,
      createdAt: new Date(Date.UTC(2026, 10, 30, 9, 0, 0, index)).toISOString(),
      startedAt: null,
      finishedAt: null,
      logBytes: 0,
      logsRemovedAt: null,
      logsRemovedReason: null,
      host: 'h-race',
      server: null,
    });
  }
  const [first, second] = await Promise.all([
    claimInThread(path, 'srv-1'),
    claimInThread(path, 'srv-2'),
  ]);
  assert.equal(first.length + second.length, ids.length, 'no job taken twice');
  assert.deepEqual([...first, ...second].sort(), ids);
  for (const id of first) assert.equal((await state.getJob('alice', id))?.server, 'srv-1');
  for (const id of second) assert.equal((await state.getJob('alice', id))?.server, 'srv-2');
  await state.close();
});
