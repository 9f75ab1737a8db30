/**
 * The warm cache on fake sandboxes: what it hands back, what it evicts and why (expiry, count,
 * memory, a changed run, a dead sandbox, a workspace wanted elsewhere, shutdown).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitUntil } from '../../test/helpers/server-process.ts';
import { createFakeRuntime } from '../runtimes/fake/fake-runtime.ts';
import type { FakeSandbox } from '../runtimes/fake/fake-sandbox.ts';
import { SchedulerMetrics } from './scheduler-metrics.ts';
import { type Parked, WarmCache, type WarmCacheOptions } from './warm-cache.ts';

const runtime = createFakeRuntime();
after(() => Promise.allSettled([...runtime.running].map((sandbox) => sandbox.stop())));

let sequence = 0;
async function parked(overrides: Partial<Parked> = {}): Promise<Parked & { sandbox: FakeSandbox }> {
  const id = `warm-${++sequence}`;
  const sandbox = await runtime.start({
    id,
    image: { name: 'default' },
    limits: { memoryMiB: 64, cpus: 1, pidsMax: 64 },
    network: { egress: 'none' },
  });
  return {
    runtime: 'fake',
    image: 'default',
    network: false,
    limits: { memoryMiB: 64, cpus: 1, pidsMax: 64 },
    oomKills: 0,
    memoryBytes: 10,
    ...overrides,
    sandbox,
  };
}

function cache(options: Partial<Omit<WarmCacheOptions, 'metrics'>> = {}) {
  const metrics = new SchedulerMetrics();
  const warm = new WarmCache({
    ttlMs: 60_000,
    maxCount: 10,
    maxMemoryBytes: 1000,
    ...options,
    metrics,
  });
  return {
    warm,
    evictions: () => SchedulerMetrics.byLabel(metrics.warmEvictions, 'reason'),
    misses: () => SchedulerMetrics.byLabel(metrics.warmMisses, 'reason'),
    notParked: () => SchedulerMetrics.byLabel(metrics.notParked, 'reason'),
  };
}

const terms = {
  runtime: 'fake',
  image: 'default',
  network: false,
  limits: { memoryMiB: 64, cpus: 1, pidsMax: 64 },
};

test('a parked sandbox goes to its own workspace once, on the same terms', async () => {
  const { warm, misses } = cache();
  const entry = await parked();
  assert.equal(await warm.park('alice.app', entry), true);
  assert.deepEqual(warm.parkedWorkspaces(), ['alice.app']);
  assert.equal(warm.parkedCountFor('alice'), 1);
  assert.equal(warm.parkedCountFor('bob'), 0);
  assert.equal(await warm.take('bob.app', terms), undefined);
  assert.equal((await warm.take('alice.app', terms))?.sandbox, entry.sandbox);
  assert.equal(await warm.take('alice.app', terms), undefined);
  assert.deepEqual(await misses(), { none: 2 });
  assert.equal(entry.sandbox.isRunning(), true, 'handed back running');
  await entry.sandbox.stop();
});

test('a run on other terms, or a sandbox that died, is a miss and the sandbox is stopped', async () => {
  const { warm, misses, evictions } = cache();
  const changed = await parked();
  await warm.park('a', changed);
  assert.equal(await warm.take('a', { ...terms, network: true }), undefined);
  assert.equal(changed.sandbox.isRunning(), false);
  const dead = await parked();
  await warm.park('b', dead);
  await dead.sandbox.crash();
  assert.equal(await warm.take('b', terms), undefined);
  assert.deepEqual(await misses(), { changed: 1, died: 1 });
  assert.deepEqual(await evictions(), { invalidated: 1, died: 1 });
  assert.equal(runtime.running.has(dead.sandbox), false, 'its resources were released');
});

test('a parked sandbox expires after ttlMs', async () => {
  const { warm, evictions } = cache({ ttlMs: 20 });
  const entry = await parked();
  await warm.park('a', entry);
  await waitUntil(async () => warm.status().parked === 0, 10_000);
  await waitUntil(async () => !runtime.running.has(entry.sandbox), 10_000);
  assert.deepEqual(await evictions(), { expired: 1 });
});

test('past maxCount or maxMemoryBytes the oldest go first; one too large is not parked', async () => {
  const { warm, evictions, notParked } = cache({ maxCount: 2, maxMemoryBytes: 100 });
  const first = await parked({ memoryBytes: 10 });
  const second = await parked({ memoryBytes: 10 });
  const third = await parked({ memoryBytes: 10 });
  for (const [name, entry] of [
    ['one', first],
    ['two', second],
    ['three', third],
  ] as const) {
    await warm.park(name, entry);
  }
  assert.deepEqual(warm.parkedWorkspaces(), ['two', 'three']);
  assert.equal(first.sandbox.isRunning(), false);
  // Two parked (the count): the oldest goes for the count, the next for the memory.
  const large = await parked({ memoryBytes: 95 });
  await warm.park('large', large);
  assert.deepEqual(warm.parkedWorkspaces(), ['large'], 'both older ones went');
  assert.deepEqual(warm.status().memoryBytes, 95);
  const huge = await parked({ memoryBytes: 101 });
  assert.equal(await warm.park('huge', huge), false);
  assert.equal(huge.sandbox.isRunning(), false);
  assert.deepEqual(await evictions(), { count: 2, memory: 1 });
  assert.deepEqual(await notParked(), { memory: 1 });
  await warm.close();
});

test('parking off (ttl 0) stops the sandbox; evict and close evict with their reasons', async () => {
  const off = cache({ ttlMs: 0 });
  const entry = await parked();
  assert.equal(await off.warm.park('a', entry), false);
  assert.deepEqual(await off.notParked(), { disabled: 1 });
  assert.equal(entry.sandbox.isRunning(), false);

  const { warm, evictions } = cache();
  const holder = await parked();
  const other = await parked();
  await warm.park('alice.wanted', holder);
  await warm.park('other', other);
  await warm.evict('alice.wanted', 'invalidated');
  assert.deepEqual(warm.parkedWorkspaces(), ['other']);
  assert.equal(holder.sandbox.isRunning(), false);
  await warm.evict('never-parked', 'invalidated'); // nothing to evict: no eviction counted
  await warm.close();
  assert.equal(other.sandbox.isRunning(), false);
  assert.deepEqual(await evictions(), { invalidated: 1, shutdown: 1 });
});

test('a parked sandbox with an egress allow-list goes only to a run with the same list', async () => {
  const { warm, misses } = cache();
  const allow = [{ host: 'registry.npmjs.org', port: 443 }, { cidr: '192.0.2.0/24' }];
  const listed = await parked({ network: true, allow });
  await warm.park('a', listed);
  const same = { ...terms, network: true, allow: [...allow].reverse() };
  assert.equal(
    (await warm.take('a', same))?.sandbox,
    listed.sandbox,
    'the same list, in any order',
  );
  await warm.park('a', listed);
  assert.equal(await warm.take('a', { ...terms, network: true }), undefined, 'all of the network');
  assert.equal(listed.sandbox.isRunning(), false);
  const other = await parked({ network: true, allow });
  await warm.park('b', other);
  assert.equal(
    await warm.take('b', { ...terms, network: true, allow: [{ host: 'registry.npmjs.org' }] }),
    undefined,
    'another list',
  );
  assert.deepEqual(await misses(), { changed: 2 });
});

test('a list is the same list with or without network: true, and with a rule repeated', async () => {
  const { warm, misses } = cache();
  const allow = [{ host: 'registry.npmjs.org', port: 443 }];
  const listed = await parked({ network: true, allow });
  // Lines the keeper logged after the last run's output was finished are not the next run's.
  const logged = ['mags: egress blocked: connection to 203.0.113.7:443'];
  Object.assign(listed.sandbox, { egressBlocked: async () => logged.splice(0) });
  await warm.park('a', listed);
  const repeated = { ...terms, network: false, allow: [...allow, ...allow] };
  assert.equal((await warm.take('a', repeated))?.sandbox, listed.sandbox);
  assert.deepEqual(await misses(), {});
  assert.deepEqual(logged, [], 'read and dropped when it was taken');
});
