/**
 * The scheduler on the fake runtime: where a sandbox comes from (pool, fresh start, parked) and
 * where it goes after a run (parked or stopped, and why).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitUntil } from '../../test/helpers/server-process.ts';
import { createTestContext } from '../../test/helpers/test-context.ts';
import { MagsError } from '../errors/mags-error.ts';
import type {
  ResourceLimits,
  Runtime,
  SandboxSpec,
  WorkspaceReference,
} from '../runtimes/runtime.ts';
import { SandboxScheduler } from './sandbox-scheduler.ts';

// The fake runtime on the stores a context wires: workspace references find their directories.
const fake = await createTestContext({ imageNames: ['default', 'other-image'] });
const { runtime } = fake;
after(() => fake.cleanup());
const limits = { memoryMiB: 64, cpus: 1, pidsMax: 64 };
const terms = { runtime: 'fake', image: 'default', network: false, limits };

/**
 * The fake runtime declaring `setLimits` (it enforces no limits, so it declares none itself):
 * its sandboxes record the limits a run gives them, and refuse a memory limit below 32 MiB as a
 * sandbox holding more than that would. The scheduler's reuse of parked sandboxes needs it.
 */
const limitsGiven: ResourceLimits[] = [];
const resizable: Runtime = {
  ...runtime,
  capabilities: { ...runtime.capabilities, setLimits: true },
  async start(spec) {
    const sandbox = await runtime.start(spec);
    return Object.assign(sandbox, {
      async setLimits(wanted: ResourceLimits): Promise<string[]> {
        if (wanted.memoryMiB < 32) {
          throw new MagsError('The sandbox holds more memory than that.', {
            code: 'limits_refused',
          });
        }
        limitsGiven.push(wanted);
        return [];
      },
    });
  },
};

function scheduler(poolSize: number, on: Runtime = runtime) {
  return new SandboxScheduler({
    runtime: on,
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
const spec = (image = 'default', workspace?: WorkspaceReference): SandboxSpec => ({
  id: `run-${++sequence}`,
  image: { name: image },
  ...(workspace ? { workspace } : {}),
  limits,
  network: { egress: 'none' },
});

test('a start claims a pooled sandbox for its image, and starts its own for another', async () => {
  const sandboxes = scheduler(1);
  sandboxes.open();
  await waitUntil(async () => sandboxes.pool.status().idle === 1, 10_000);
  const pooled = await sandboxes.start(spec());
  assert.match(pooled.id, /^pool-/);
  const own = await sandboxes.start(spec('other-image'));
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
  const sandboxes = scheduler(0, resizable);
  const sandbox = await sandboxes.start(spec('default', { name: 'alice.app', access: 'writable' }));
  const usage = await sandbox.usage();
  const entry = { sandbox, ...terms, oomKills: 0, memoryBytes: 0 };
  assert.equal(await sandboxes.park('alice.app', { ...entry, reusable: true }), true);
  assert.equal(usage.processes, 0);
  const next = { ...limits, memoryMiB: 128 };
  const taken = await sandboxes.takeParked('alice.app', terms, next);
  assert.equal(taken?.sandbox, sandbox);
  assert.deepEqual(limitsGiven.at(-1), next, "the next run's limits");
  assert.equal(await sandboxes.park('alice.app', { ...entry, reusable: 'processes_left' }), false);
  assert.equal(sandbox.isRunning(), false);
  const status = await sandboxes.status();
  assert.equal(status.counters.warmHits, 1);
  assert.deepEqual(status.counters.notParked, { processes_left: 1 });
  assert.deepEqual(status.counters.poolMisses, { disabled: 1 });
  await sandboxes.close();
});

test('a parked sandbox whose limits cannot change for the next run is stopped: a miss', async () => {
  for (const [name, on, wanted] of [
    ['a runtime without setLimits, other limits', runtime, { ...limits, memoryMiB: 128 }],
    ['limits the sandbox refuses', resizable, { ...limits, memoryMiB: 16 }],
  ] as const) {
    const sandboxes = scheduler(0, on);
    const sandbox = await sandboxes.start(
      spec('default', { name: 'alice.fit', access: 'writable' }),
    );
    const entry = { sandbox, ...terms, oomKills: 0, memoryBytes: 0, reusable: true as const };
    assert.equal(await sandboxes.park('alice.fit', entry), true, name);
    assert.equal(await sandboxes.takeParked('alice.fit', terms, wanted), undefined, name);
    assert.equal(sandbox.isRunning(), false, name);
    const { counters } = await sandboxes.status();
    assert.deepEqual(counters.warmMisses, { limits: 1 }, name);
    assert.deepEqual(counters.warmEvictions, { invalidated: 1 }, name);
    await sandboxes.close();
  }
});

test('a runtime without setLimits gets its parked sandbox back for a run with the same limits', async () => {
  const sandboxes = scheduler(0, runtime);
  const sandbox = await sandboxes.start(spec('default', { name: 'alice.vm', access: 'writable' }));
  const entry = { sandbox, ...terms, oomKills: 0, memoryBytes: 0, reusable: true as const };
  assert.equal(await sandboxes.park('alice.vm', entry), true);
  assert.equal((await sandboxes.takeParked('alice.vm', terms, { ...limits }))?.sandbox, sandbox);
  assert.equal((await sandboxes.status()).counters.warmHits, 1);
  await sandbox.stop();
  await sandboxes.close();
});

test("a start that needs a parked sandbox's workspace evicts it first", async () => {
  const sandboxes = scheduler(0);
  const first = await sandboxes.start(
    spec('default', { name: 'alice.shared', access: 'writable' }),
  );
  await sandboxes.park('alice.shared', {
    sandbox: first,
    ...terms,
    oomKills: 0,
    memoryBytes: 0,
    reusable: true,
  });
  // The fake runtime refuses a workspace in use as the real one does: only the eviction lets
  // this start.
  const reader = await sandboxes.start(
    spec('default', { name: 'alice.shared', access: 'read-only' }),
  );
  assert.equal(first.isRunning(), false);
  assert.deepEqual((await sandboxes.status()).counters.warmEvictions, { invalidated: 1 });
  await reader.stop();
  await sandboxes.close();
});
