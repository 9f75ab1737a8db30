/**
 * SandboxManager's data plane on the fake runtime (any user, no root): every use of a sandbox
 * (an exec job, a file transfer, a shell) wakes it and holds it awake until that use ends, and
 * every way a use fails lets go of it. The routes' tests see the answers; these see the holds,
 * through whether the idle check may put the sandbox to sleep.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestContext, type FakeTestContext } from '../../test/helpers/test-context.ts';
import { JobManager } from '../jobs/job-manager.ts';
import type { FakeSandbox } from '../runtimes/fake/fake-sandbox.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../state/state-repository.ts';
import { SandboxManager } from './sandbox-manager.ts';

const owner = 'alice';
/** An upload's source: the bytes, as the route hands them over (an async iterator). */
const bytes = (...buffers: Buffer[]): AsyncIterator<Buffer> =>
  (async function* () {
    yield* buffers;
  })();

describe('SandboxManager: uses hold a sandbox awake (fake runtime)', () => {
  let fake: FakeTestContext;
  let repository: StateRepository;
  let sandboxes: SandboxManager;
  let jobs: JobManager;
  before(async () => {
    fake = await createTestContext();
    repository = createSqliteStateRepository(join(fake.home, 'state.db'));
    // Idle after 1 ms: whether a sandbox sleeps at the next check is up to its holds alone.
    sandboxes = new SandboxManager({ context: fake.context, repository, sleepAfterMs: 1 });
    jobs = new JobManager({ context: fake.context, repository, killGraceMs: 100 });
  });
  after(async () => {
    await jobs.shutdown();
    await sandboxes.shutdown();
    await repository.close();
    await fake.cleanup();
  });

  /** The status after an idle check run now, once the sandbox has been idle for over 1 ms. */
  const statusAfterIdleCheck = async (name: string) => {
    await sleep(5);
    await sandboxes.sleepIdle();
    return (await sandboxes.get(owner, name)).status;
  };
  const workspaceDirectory = (name: string) => {
    const sandbox = [...fake.runtime.running].find((running) => running.labels.name === name);
    assert.ok(sandbox, `sandbox ${name} runs`);
    return (sandbox as FakeSandbox).workspaceDirectory;
  };

  test('use wakes a sleeping sandbox and holds it awake until released; wake and use refuse what does not run', async () => {
    await sandboxes.create(owner, { name: 'held' });
    assert.equal(await statusAfterIdleCheck('held'), 'sleeping');
    const use = await sandboxes.use(owner, 'held');
    assert.equal((await sandboxes.get(owner, 'held')).status, 'running', 'woken by the use');
    assert.equal(await statusAfterIdleCheck('held'), 'running', 'held: it does not sleep');
    use.release();
    use.release(); // twice is harmless: the hold is not counted down below zero
    assert.equal(await statusAfterIdleCheck('held'), 'sleeping');
    assert.equal((await sandboxes.wake(owner, 'held')).status, 'running');

    await sandboxes.stop(owner, 'held');
    await assert.rejects(sandboxes.use(owner, 'held'), { code: 'sandbox_stopped' });
    await assert.rejects(sandboxes.wake(owner, 'held'), { code: 'sandbox_stopped' });
    await assert.rejects(sandboxes.use(owner, 'missing'), { code: 'sandbox_not_found' });
    await assert.rejects(sandboxes.use('bob', 'held'), { code: 'sandbox_not_found' });
  });

  test('writeFile: written with its mode; over the limit (streamed or declared) a 413 that leaves the rest of the source to drain, and no hold', async () => {
    await sandboxes.create(owner, { name: 'files' });
    const chunks = async function* (count: number) {
      for (let index = 0; index < count; index++) yield Buffer.alloc(1000, 97 + index);
    };
    await sandboxes.writeFile(owner, 'files', {
      path: '/workspace/small.txt',
      data: chunks(2)[Symbol.asyncIterator](),
      mode: 0o600,
      maxBytes: 2000,
    });
    const written = join(workspaceDirectory('files'), 'small.txt');
    assert.equal((await readFile(written)).length, 2000);
    assert.equal((await stat(written)).mode & 0o777, 0o600);

    // Refused at the third chunk; the fourth is still there for the caller to drain (a source
    // that was ended early would be done).
    const source = chunks(4)[Symbol.asyncIterator]();
    await assert.rejects(
      sandboxes.writeFile(owner, 'files', {
        path: '/workspace/large.txt',
        data: source,
        maxBytes: 2500,
      }),
      { code: 'too_large', statusCode: 413 },
    );
    const rest = await source.next();
    assert.equal(rest.done, false);
    assert.equal(rest.value?.[0], 97 + 3);
    assert.equal(await statusAfterIdleCheck('files'), 'sleeping', 'the refused write let go');

    // A declared length over the limit is refused before the sandbox is even looked up.
    await assert.rejects(
      sandboxes.writeFile(owner, 'no-such-sandbox', {
        path: '/workspace/x',
        data: chunks(0)[Symbol.asyncIterator](),
        maxBytes: 10,
        declaredBytes: 11,
      }),
      { code: 'too_large', statusCode: 413 },
    );
    assert.equal((await sandboxes.get(owner, 'files')).status, 'sleeping', 'not woken');
  });

  test('readFile holds the sandbox until its stream closes; a refused read holds nothing', async () => {
    await sandboxes.create(owner, { name: 'reads' });
    await sandboxes.writeFile(owner, 'reads', {
      path: '/workspace/data.bin',
      data: bytes(Buffer.alloc(100_000, 7)),
      maxBytes: 1_000_000,
    });
    const file = await sandboxes.readFile(owner, 'reads', {
      path: '/workspace/data.bin',
      maxBytes: 1_000_000,
    });
    assert.equal(file.sizeBytes, 100_000);
    assert.equal(await statusAfterIdleCheck('reads'), 'running', 'a download under way');
    let received = 0;
    for await (const chunk of file.stream) received += (chunk as Buffer).length;
    assert.equal(received, 100_000);
    assert.equal(await statusAfterIdleCheck('reads'), 'sleeping', 'released when it closed');

    await assert.rejects(
      sandboxes.readFile(owner, 'reads', { path: '/workspace/data.bin', maxBytes: 10 }),
      { code: 'file_too_large', statusCode: 413 },
    );
    await assert.rejects(
      sandboxes.readFile(owner, 'reads', { path: '/workspace/missing', maxBytes: 10 }),
      { statusCode: 404 },
    );
    assert.equal(await statusAfterIdleCheck('reads'), 'sleeping', 'refusals let go');
  });

  test('submitExec: in use until the job ends; a refused job holds nothing', async () => {
    await sandboxes.create(owner, { name: 'execs' });
    const job = await sandboxes.submitExec(
      owner,
      'execs',
      { argv: ['/bin/sh', '-c', 'while [ ! -f go ]; do sleep 0.02; done; echo done'] },
      jobs,
    );
    assert.equal(job.kind, 'exec');
    assert.equal(await statusAfterIdleCheck('execs'), 'running', 'its job runs');
    await sandboxes.writeFile(owner, 'execs', {
      path: '/workspace/go',
      data: bytes(),
      maxBytes: 10,
    });
    const done = await jobs.wait(owner, job.id);
    assert.equal(done.exitCode, 0);
    assert.equal(await statusAfterIdleCheck('execs'), 'sleeping', 'released when it ended');

    await assert.rejects(
      sandboxes.submitExec(owner, 'execs', { argv: ['true'], env: { 'BAD NAME': 'x' } }, jobs),
      { code: 'invalid_input' },
    );
    assert.equal(await statusAfterIdleCheck('execs'), 'sleeping', 'a refused job let go');
  });

  test('openShell on a runtime without terminals: the capability error, and no hold', async () => {
    await sandboxes.create(owner, { name: 'shell' });
    await assert.rejects(
      sandboxes.openShell(owner, 'shell', { rows: 24, cols: 80, term: 'xterm' }),
      {
        code: 'capability_unsupported',
        runtime: 'fake',
        capability: 'tty',
      },
    );
    assert.equal(await statusAfterIdleCheck('shell'), 'sleeping');
  });
});
