/** The pool on the fake runtime: filling, claiming and refilling, and why it cannot fill. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntil } from '../../test/helpers/server-process.ts';
import { createFakeRuntime } from '../runtimes/fake/fake-runtime.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import { SandboxPool, type SandboxPoolOptions } from './sandbox-pool.ts';
import { SchedulerMetrics } from './scheduler-metrics.ts';

const limits = { memoryMiB: 64, cpus: 1, pidsMax: 64 };

function pool(options: Partial<SandboxPoolOptions> = {}) {
  const metrics = new SchedulerMetrics();
  return {
    metrics,
    pool: new SandboxPool({
      runtime: createFakeRuntime(),
      size: 2,
      image: 'default',
      limits,
      ready: async () => {},
      hostMemoryPercent: async () => 10,
      metrics,
      ...options,
    }),
  };
}

test('fills to its size; a claim hands out a prepared sandbox, attached once, and refills', async () => {
  const runtime = createFakeRuntime();
  const { pool: sandboxes } = pool({ runtime });
  sandboxes.start();
  await waitUntil(async () => sandboxes.status().idle === 2, 10_000);
  const prepared = sandboxes.take();
  assert.ok(prepared);
  assert.equal(sandboxes.status().idle, 1);
  const sandbox = await prepared.attach({
    image: { name: 'default' },
    limits,
    network: { egress: 'none' },
  });
  assert.equal(sandbox.id, prepared.id);
  assert.match(prepared.id, /^pool-/);
  await waitUntil(async () => sandboxes.status().idle === 2, 10_000);
  await sandboxes.close();
  assert.equal(sandboxes.status().idle, 0);
  await sandbox.stop();
});

test('a pool of size 0 stays empty', async () => {
  const { pool: sandboxes } = pool({ size: 0 });
  sandboxes.start();
  assert.deepEqual(sandboxes.status(), {
    runtime: 'fake',
    size: 0,
    image: 'default',
    idle: 0,
    starting: 0,
    error: null,
  });
  assert.equal(sandboxes.take(), undefined);
  await sandboxes.close();
});

test('it says why it cannot fill: no prepare, a busy host, no image', async () => {
  const fake = createFakeRuntime();
  const withoutPrepare: Runtime = {
    ...fake,
    capabilities: { ...fake.capabilities, prepare: false },
  };
  const cases: Array<[string, Partial<SandboxPoolOptions>, RegExp]> = [
    ['no prepare', { runtime: withoutPrepare }, /cannot start sandboxes ahead of time/],
    ['busy host', { hostMemoryPercent: async () => 95 }, /Host memory use is 95 %/],
    [
      'no image',
      {
        ready: async () => {
          throw new Error('the base image is not built');
        },
      },
      /the base image is not built/,
    ],
  ];
  for (const [name, options, message] of cases) {
    const { pool: sandboxes, metrics } = pool(options);
    sandboxes.start();
    await waitUntil(async () => sandboxes.status().error !== null, 10_000);
    assert.match(sandboxes.status().error ?? '', message, name);
    assert.equal(sandboxes.status().idle, 0, name);
    assert.ok((await SchedulerMetrics.total(metrics.poolRefillFailures)) > 0, name);
    await sandboxes.close();
  }
});
