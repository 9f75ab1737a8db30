/**
 * Several runtimes side by side (issue 15, "Selection"), on two fake runtimes over the same
 * stores: `namespace` (the default, every capability of the fake) and `fake-vm` (no `prepare`).
 * Each job and sandbox runs on the runtime it names, records it, and keeps it across a restart;
 * the pool and the warm cache never hand one runtime's sandbox to a run on another.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ApiError, Health, Job, SandboxInfo } from '../src/api/schemas.ts';
import { assertSameIdMapping } from '../src/context/choose-runtime.ts';
import { createMagsContext } from '../src/context/mags-context.ts';
import { InvalidInputError } from '../src/errors/mags-error.ts';
import { JobManager } from '../src/jobs/job-manager.ts';
import { createShiftedIdMapping } from '../src/runtimes/namespace/id-mapping.ts';
import type { Runtime } from '../src/runtimes/runtime.ts';
import { SandboxManager } from '../src/sandboxes/sandbox-manager.ts';
import { SandboxScheduler } from '../src/scheduling/sandbox-scheduler.ts';
import { recoverWork } from '../src/server/recover-work.ts';
import { startServer } from '../src/server/start-server.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import { waitUntil } from './helpers/server-process.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';
import { createTestContext } from './helpers/test-context.ts';

const twoRuntimes = {
  runtimes: [{ name: 'namespace' }, { name: 'fake-vm', without: ['prepare' as const] }],
};

describe('runtime selection through the API (two fake runtimes)', async () => {
  const api: TestApp = await createTestApp({ context: twoRuntimes });
  after(() => api.close());
  const { token } = await api.token('alice');
  const { runtimes } = api.fake;
  const run = async (body: Record<string, unknown>): Promise<Job> => {
    const response = await api.request(token, 'POST', '/v1/jobs', body);
    assert.equal(response.status, 201, await response.clone().text());
    const job = (await response.json()) as Job;
    await api.services.jobs.wait('alice', job.id);
    const done = await api.request(token, 'GET', `/v1/jobs/${job.id}`);
    return (await done.json()) as Job;
  };
  const ranOn = (name: string, job: Job) =>
    runtimes[name]?.specs.some((spec) => spec.labels?.job === job.id) ?? false;

  test('a job runs on, and records, the runtime it asks for; none: the default', async () => {
    const onVm = await run({ command: 'echo vm', runtime: 'fake-vm' });
    assert.equal(onVm.status, 'succeeded', onVm.message ?? '');
    assert.equal(onVm.runtime, 'fake-vm');
    assert.deepEqual([ranOn('fake-vm', onVm), ranOn('namespace', onVm)], [true, false]);
    const byDefault = await run({ command: 'echo default' });
    assert.equal(byDefault.runtime, 'namespace');
    assert.deepEqual([ranOn('fake-vm', byDefault), ranOn('namespace', byDefault)], [false, true]);
    const listed = await api.request(token, 'GET', '/v1/jobs');
    const { jobs } = (await listed.json()) as { jobs: Job[] };
    assert.deepEqual(
      jobs.filter((job) => [onVm.id, byDefault.id].includes(job.id)).map((job) => job.runtime),
      ['namespace', 'fake-vm'],
      'the list shows each one its runtime',
    );
    const health = (await (await api.request(undefined, 'GET', '/health')).json()) as Health;
    assert.deepEqual([health.runtime, health.runtimes], ['namespace', ['namespace', 'fake-vm']]);
  });

  test('an unknown runtime is a 400 that lists the available ones; nothing is recorded', async () => {
    const before = runtimes['fake-vm']?.specs.length;
    for (const [path, body] of [
      ['/v1/jobs', { command: 'true', runtime: 'qemu-not-here' }],
      ['/v1/sandboxes', { name: 'nowhere', runtime: 'qemu-not-here' }],
    ] as const) {
      const response = await api.request(token, 'POST', path, body);
      assert.equal(response.status, 400, path);
      const { error } = (await response.json()) as ApiError;
      assert.equal(error.code, 'invalid_input', path);
      assert.match(error.message, /Unknown runtime "qemu-not-here"/, path);
      assert.match(error.hint ?? '', /namespace, fake-vm \(default namespace\)/, path);
    }
    assert.equal(runtimes['fake-vm']?.specs.length, before);
    const sandbox = await api.request(token, 'GET', '/v1/sandboxes/nowhere');
    assert.equal(sandbox.status, 404, 'no sandbox record was made');
  });

  test('a runtime whose host check fails is refused with what the host lacks', async () => {
    const vm = runtimes['fake-vm'] as Runtime;
    const lacking: Runtime = {
      ...vm,
      name: 'lacking',
      check: async () => ({
        ok: false,
        problems: ['no guest kernel: run mags image build --runtime qemu'],
        warnings: [],
      }),
    };
    (api.services.context.runtimes as Record<string, Runtime>).lacking = lacking;
    try {
      const response = await api.request(token, 'POST', '/v1/jobs', {
        command: 'true',
        runtime: 'lacking',
      });
      assert.equal(response.status, 400);
      const { error } = (await response.json()) as ApiError;
      assert.equal(error.code, 'runtime_unavailable');
      assert.match(error.message, /cannot run lacking sandboxes:\n {2}- no guest kernel/);
      assert.match(error.hint ?? '', /Use another runtime \(namespace, fake-vm\)/);
    } finally {
      delete (api.services.context.runtimes as Record<string, Runtime>).lacking;
    }
  });

  test('a long-lived sandbox runs on, and records, its runtime; so do its exec jobs', async () => {
    const created = await api.request(token, 'POST', '/v1/sandboxes', {
      name: 'vmbox',
      runtime: 'fake-vm',
      ephemeral: true,
    });
    assert.equal(created.status, 201, await created.clone().text());
    assert.equal(((await created.json()) as SandboxInfo).runtime, 'fake-vm');
    assert.ok(runtimes['fake-vm']?.specs.some((spec) => spec.labels?.name === 'vmbox'));
    const listed = await api.request(token, 'GET', '/v1/sandboxes');
    const { sandboxes } = (await listed.json()) as { sandboxes: SandboxInfo[] };
    assert.equal(sandboxes.find((sandbox) => sandbox.name === 'vmbox')?.runtime, 'fake-vm');
    const exec = await api.request(token, 'POST', '/v1/sandboxes/vmbox/exec', { command: 'true' });
    assert.equal(exec.status, 201, await exec.clone().text());
    const job = (await exec.json()) as Job;
    assert.equal(job.runtime, 'fake-vm', "an exec job records its sandbox's runtime");
    // Stopped and started again: on the same runtime (the record keeps it).
    await api.request(token, 'POST', '/v1/sandboxes/vmbox/stop');
    const before = runtimes['fake-vm']?.specs.length ?? 0;
    const started = await api.request(token, 'POST', '/v1/sandboxes/vmbox/start');
    assert.equal(started.status, 200, await started.clone().text());
    assert.equal(runtimes['fake-vm']?.specs.length, before + 1);
    await api.request(token, 'DELETE', '/v1/sandboxes/vmbox');
  });

  test("a workspace's parked sandbox serves only runs on its runtime; another runtime's run stops it first", async () => {
    const first = await run({ command: 'echo one > file', workspace: 'shared' });
    assert.equal(first.status, 'succeeded', JSON.stringify(first));
    const { scheduler } = api.services;
    await waitUntil(async () => scheduler.warm.parkedWorkspaces().includes('alice.shared'), 5000);
    const parked = [...(runtimes.namespace?.running ?? [])].find(
      (sandbox) => sandbox.id === first.sandboxId,
    );
    assert.ok(parked?.isRunning(), 'parked after its run');
    if (!parked) return;
    const second = await run({
      command: 'cat file',
      workspace: 'shared',
      runtime: 'fake-vm',
    });
    assert.equal(second.status, 'succeeded', second.message ?? '');
    assert.equal(second.runtime, 'fake-vm');
    assert.ok(ranOn('fake-vm', second), 'a fresh sandbox on fake-vm');
    assert.equal(parked.isRunning(), false, 'the namespace one was stopped (one writer)');
    const { counters } = await scheduler.status();
    assert.equal(counters.warmMisses.runtime, 1);
    assert.equal(counters.warmHits, 0);
  });
});

describe('the pool, per runtime', () => {
  const limits = { memoryMiB: 64, cpus: 1, pidsMax: 64 };
  const schedulerOn = (runtime: Runtime, runtimes: Record<string, Runtime>) =>
    new SandboxScheduler({
      runtime,
      runtimes,
      pool: { size: 1, image: 'default', limits, maxHostMemoryPercent: 100, ready: async () => {} },
      warm: { ttlMs: 60_000, maxCount: 4, maxMemoryBytes: 1024 ** 3 },
    });

  test("prepares only the default runtime's sandboxes, and only when it can; a run on another runtime starts its own", async () => {
    const fake = await createTestContext(twoRuntimes);
    after(() => fake.cleanup());
    const { namespace, 'fake-vm': vm } = fake.runtimes as Record<string, Runtime>;
    assert.ok(namespace && vm);
    const prepared: string[] = [];
    const counting = (runtime: Runtime): Runtime => ({
      ...runtime,
      prepare: async (options) => {
        prepared.push(runtime.name);
        return runtimeOperationPrepare(runtime)(options);
      },
    });
    const pooled = schedulerOn(counting(namespace), { namespace, 'fake-vm': vm });
    pooled.open();
    await waitUntil(async () => pooled.pool.status().idle === 1, 5000);
    assert.equal(pooled.pool.status().runtime, 'namespace');
    const spec = (id: string) => ({
      id,
      image: { name: 'default' },
      limits,
      network: { egress: 'none' as const },
    });
    const onVm = await pooled.start(spec('on-vm'), vm);
    assert.equal(pooled.pool.status().idle, 1, "the pool's sandbox is not handed to fake-vm");
    assert.ok(fake.runtimes['fake-vm']?.specs.some((each) => each.id === 'on-vm'));
    assert.deepEqual((await pooled.status()).counters.poolMisses, { runtime: 1 });
    const onDefault = await pooled.start(spec('on-default'));
    assert.equal((await pooled.status()).counters.poolHits, 1);
    await Promise.all([onVm.stop(), onDefault.stop(), pooled.close()]);
    assert.deepEqual([...new Set(prepared)], ['namespace']);

    // With fake-vm the default: it cannot prepare, so there is no pool (and no prepare call).
    prepared.length = 0;
    const unpooled = schedulerOn(counting(vm), { namespace, 'fake-vm': vm });
    unpooled.open();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const status = unpooled.pool.status();
    assert.deepEqual(
      [status.runtime, status.size, status.idle, status.error],
      ['fake-vm', 0, 0, null],
    );
    assert.deepEqual(prepared, []);
    await unpooled.close();
  });
});

/** `prepare` of a fake runtime, bound (the fake declares it unless built without). */
function runtimeOperationPrepare(runtime: Runtime) {
  const prepare = runtime.prepare;
  assert.ok(prepare);
  return prepare.bind(runtime);
}

describe('a restart', () => {
  test('re-attaches each sandbox through the runtime it was started on; one that cannot outlive its server is stopped', async () => {
    const fake = await createTestContext({
      runtimes: [
        ...twoRuntimes.runtimes,
        { name: 'fake-once', without: ['prepare' as const, 'reattach' as const] },
      ],
    });
    after(() => fake.cleanup());
    const { context } = fake;
    const open = (server: string) => {
      const repository = createSqliteStateRepository(join(fake.home, 'state.db'));
      const instance = { host: 'test-host', server };
      const sandboxes = new SandboxManager({ context, repository, sleepAfterMs: 0, instance });
      const jobs = new JobManager({ context, repository, killGraceMs: 100, instance });
      return { repository, instance, sandboxes, jobs };
    };
    const first = open('server-1');
    await first.sandboxes.create('alice', { name: 'on-ns', ephemeral: true });
    await first.sandboxes.create('alice', { name: 'on-vm', ephemeral: true, runtime: 'fake-vm' });
    await first.sandboxes.create('alice', { name: 'once', ephemeral: true, runtime: 'fake-once' });
    const once = await first.jobs.submitRun('alice', {
      argv: ['sleep', '60'],
      runtime: 'fake-once',
    });
    await waitUntil(async () => (await first.jobs.get('alice', once.id)).sandboxId !== null, 5000);
    // The first server goes away, its sandboxes left running (a detaching shutdown).
    await first.jobs.detach();
    await first.sandboxes.detach();
    await first.repository.close();

    const second = open('server-2');
    after(async () => {
      await second.sandboxes.shutdown();
      await second.repository.close();
    });
    const report = await recoverWork({ ...second, context, log: () => {} });
    assert.equal(report.sandboxesReattached, 2, JSON.stringify(report));
    assert.equal(report.sandboxesGone, 0);
    // fake-once's sandbox and job ended with the first server (they could not outlive it).
    const stopped = await second.sandboxes.get('alice', 'once');
    assert.deepEqual([stopped.status, stopped.reason], ['stopped', 'the server shut down']);
    assert.equal((await second.jobs.get('alice', once.id)).endReason, 'stopped');
    assert.equal(fake.runtimes['fake-once']?.running.size, 0);
    for (const [name, runtime] of [
      ['on-ns', 'namespace'],
      ['on-vm', 'fake-vm'],
    ] as const) {
      const record = await second.sandboxes.get('alice', name);
      assert.equal(record.runtime, runtime, name);
      assert.equal(record.status, 'running', name);
      const { sandbox, release } = await second.sandboxes.use('alice', name);
      release();
      // Attached through its own runtime: that runtime holds the handle.
      assert.ok(fake.runtimes[runtime]?.running.has(sandbox as never), `${name} on ${runtime}`);
    }
  });
});

describe('the context', () => {
  test('offers every runtime of the build by name, the default among them (MAGS_RUNTIME)', () => {
    const context = createMagsContext({ MAGS_HOME: '/nonexistent/mags-home' });
    assert.equal(context.runtimes.namespace, context.runtime);
    for (const [name, runtime] of Object.entries(context.runtimes)) {
      assert.equal(runtime.name, name);
    }
  });

  test("a run that names no runtime gets the context's default, whichever that is", async () => {
    const fake = await createTestContext({ runtimes: [...twoRuntimes.runtimes].reverse() });
    after(() => fake.cleanup());
    const repository = createSqliteStateRepository(join(fake.home, 'state.db'));
    after(() => repository.close());
    const jobs = new JobManager({ context: fake.context, repository, killGraceMs: 100 });
    const job = await jobs.submitRun('alice', { argv: ['true'] });
    const done = await jobs.wait('alice', job.id);
    assert.equal(done.runtime, 'fake-vm');
    assert.equal((await repository.getJob('alice', job.id))?.runtime, 'fake-vm');
    assert.ok(fake.runtimes['fake-vm']?.specs.some((spec) => spec.labels?.job === job.id));
  });

  test('the default comes from the server option; an unknown one is refused before anything starts', async () => {
    await assert.rejects(
      startServer({ runtime: 'no-such-runtime', port: 0 }),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        /Unknown runtime "no-such-runtime"/.test(error.message) &&
        /namespace/.test(error.hint ?? ''),
    );
  });

  test('runtimes over the same stores must share one id mapping', () => {
    const base = createShiftedIdMapping({ uidBase: 100_000 });
    assertSameIdMapping('namespace', base, 'qemu', createShiftedIdMapping({ uidBase: 100_000 }));
    assert.throws(
      () =>
        assertSameIdMapping(
          'namespace',
          base,
          'qemu',
          createShiftedIdMapping({ uidBase: 200_000 }),
        ),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        /qemu runtime maps sandbox ids to host ids differently from the namespace runtime \(root inside is host uid 200000, not 100000\)/.test(
          error.message,
        ),
    );
  });
});
