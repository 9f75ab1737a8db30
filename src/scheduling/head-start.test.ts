import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestContext } from '../../test/helpers/test-context.ts';
import type { PreparedSandbox, Runtime } from '../runtimes/runtime.ts';
import { resolveSpec } from '../sandboxes/sandbox-spec.ts';
import { HeadStart } from './head-start.ts';

/** The runtime, counting what `prepare` hands out and whether each was attached or discarded. */
function counting(runtime: Runtime) {
  const prepared: Array<{ id: string; attached: boolean; discarded: boolean }> = [];
  const wrapped: Runtime = {
    ...runtime,
    async prepare(options) {
      const inner = (await runtime.prepare?.(options)) as PreparedSandbox;
      const entry = { id: inner.id, attached: false, discarded: false };
      prepared.push(entry);
      return {
        id: inner.id,
        isAlive: () => inner.isAlive(),
        attach: (spec) => {
          entry.attached = true;
          return inner.attach(spec);
        },
        discard: () => {
          entry.discarded = true;
          return inner.discard();
        },
      };
    },
  };
  return { wrapped, prepared };
}

test('a head start is the run’s sandbox when its image fits, discarded when it does not', async () => {
  const { context, cleanup } = await createTestContext({ imageNames: ['default', 'other'] });
  try {
    const { wrapped, prepared } = counting(context.runtime);
    const limits = context.defaults.limits;
    const spec = (image: string) => resolveSpec(context, { image, limits, network: false });

    const fits = new HeadStart({ runtime: wrapped, image: 'default', limits });
    await fits.spawned();
    const sandbox = await fits.start(spec('default'));
    assert.equal(sandbox.id, prepared[0]?.id, 'the prepared sandbox serves the run');
    assert.equal(prepared[0]?.attached, true);
    await sandbox.stop();
    await fits.close(); // taken: nothing left to discard
    assert.equal(prepared[0]?.discarded, false);

    const other = new HeadStart({ runtime: wrapped, image: 'default', limits });
    const fresh = await other.start(spec('other'));
    assert.notEqual(fresh.id, prepared[1]?.id, 'another image starts its own sandbox');
    await fresh.stop();
    await other.close();
    assert.deepEqual(
      { attached: prepared[1]?.attached, discarded: prepared[1]?.discarded },
      { attached: false, discarded: true },
      'the unused head start is discarded',
    );
  } finally {
    await cleanup();
  }
});

test('a runtime that cannot prepare, or a prepare that fails, gives a plain start', async () => {
  const { context, cleanup } = await createTestContext();
  try {
    const limits = context.defaults.limits;
    const spec = resolveSpec(context, { image: 'default', limits, network: false });
    const failing: Runtime = {
      ...context.runtime,
      prepare: () => Promise.reject(new Error('no room')),
    };
    const withoutPrepare: Runtime = {
      ...context.runtime,
      capabilities: { ...context.runtime.capabilities, prepare: false },
    };
    for (const runtime of [failing, withoutPrepare]) {
      const headStart = new HeadStart({ runtime, image: 'default', limits });
      await headStart.spawned();
      const sandbox = await headStart.start(spec);
      const result = sandbox.exec({ argv: ['true'], env: {}, cwd: '/workspace' });
      result.stdout.resume();
      result.stderr.resume();
      assert.deepEqual(await result.exited, { exitCode: 0, signal: null });
      await sandbox.stop();
      await headStart.close();
    }
  } finally {
    await cleanup();
  }
});
