/**
 * The scheduler on the fake runtime: where a sandbox comes from (pool, fresh start, parked) and
 * where it goes after a run (parked or stopped, and why).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitUntil } from '../../test/helpers/server-process.ts';
import { createFakeRuntime } from '../runtimes/fake/fake-runtime.ts';
import type { SandboxSpec } from '../runtimes/runtime.ts';
import { SandboxScheduler } from './sandbox-scheduler.ts';

const runtime = createFakeRuntime();
after(() => Promise.allSettled([...runtime.running].map((sandbox) => sandbox.stop())));
const limits = { memoryMiB: 64, cpus: 1, pidsMax: 64 };
const terms = { image: 'default', network: false };

function scheduler(poolSize: number) {
  return new SandboxScheduler({
    runtime,
    pool: {
      size: poolSize,
      image: 'default',
      limits,
      maxHostMemoryPercent: 100,
      ready: async () => {},
    },
    warm: { ttlMs: 60_000, maxCount: 10, maxMemoryBytes: 1024 ** 3 },
  });
}

let sequence = 0;
const spec = (locks?: SandboxSpec['locks']): SandboxSpec => ({
  id: `run-${++sequence}`,
  rootfs: { lowerDirs: [] },
  limits,
  network: false,
  locks,
});

test('a start claims a pooled sandbox for its image, and starts its own for another', async () => {
  const sandboxes = scheduler(1);
  sandboxes.open();
  await waitUntil(async () => sandboxes.pool.status().idle === 1, 10_000);
  const pooled = await sandboxes.start(spec(), 'default');
  assert.match(pooled.id, /^pool-/);
  const own = await sandboxes.start(spec(), 'other-image');
  assert.match(own.id, /^run-/);
  const status = await sandboxes.status();
  assert.equal(status.busy, 2);
  assert.equal(status.counters.poolHits, 1);
  assert.deepEqual(status.counters.poolMisses, { image: 1 });
  await pooled.stop();
  await own.stop();
  assert.equal((await sandboxes.status()).busy, 0);
  await sandboxes.close();
});

test('park then take: the same sandbox serves the next run; an unfit one is stopped', async () => {
  const sandboxes = scheduler(0);
  const sandbox = await sandboxes.start(spec({ exclusive: ['/locks/app'] }), 'default');
  const usage = await sandbox.usage();
  const entry = { sandbox, ...terms, lockPath: '/locks/app', oomKills: 0, memoryBytes: 0 };
  assert.equal(await sandboxes.park('alice.app', { ...entry, reusable: true }), true);
  assert.equal(usage.processes, 0);
  const taken = await sandboxes.takeParked('alice.app', terms, limits);
  assert.equal(taken?.sandbox, sandbox);
  assert.equal(await sandboxes.park('alice.app', { ...entry, reusable: 'processes_left' }), false);
  assert.equal(sandbox.isRunning(), false);
  const status = await sandboxes.status();
  assert.equal(status.counters.warmHits, 1);
  assert.deepEqual(status.counters.notParked, { processes_left: 1 });
  assert.deepEqual(status.counters.poolMisses, { disabled: 1 });
  await sandboxes.close();
});

test("a start that needs a parked sandbox's workspace lock evicts it first", async () => {
  const sandboxes = scheduler(0);
  const first = await sandboxes.start(spec({ exclusive: ['/locks/shared'] }), 'default');
  await sandboxes.park('alice.shared', {
    sandbox: first,
    ...terms,
    lockPath: '/locks/shared',
    oomKills: 0,
    memoryBytes: 0,
    reusable: true,
  });
  // The fake runtime refuses a held lock as the real one does: only the eviction lets this start.
  const reader = await sandboxes.start(spec({ shared: ['/locks/shared'] }), 'default');
  assert.equal(first.isRunning(), false);
  assert.deepEqual((await sandboxes.status()).counters.warmEvictions, { invalidated: 1 });
  await reader.stop();
  await sandboxes.close();
});
