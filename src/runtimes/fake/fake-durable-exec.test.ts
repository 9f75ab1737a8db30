/**
 * The fake runtime's durable execs against the semantics the guest agent gives them
 * (docs/guest-protocol.md, Durable execs), beyond what the runtime contract checks: what ends
 * with a detaching handle and what runs on, an end kept until someone resumes it and forgotten
 * once delivered, the refusals, gaps, and the bound on what a detached exec keeps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitUntil } from '../../../test/helpers/server-process.ts';
import { createTestContext, type FakeTestContext } from '../../../test/helpers/test-context.ts';
import { collect, shell } from '../runtime-contract.ts';
import { retainLimitBytes } from './fake-durable-exec.ts';
import type { FakeSandbox } from './fake-sandbox.ts';

describe('fake runtime: durable execs', () => {
  let fake: FakeTestContext;
  let count = 0;
  before(async () => {
    fake = await createTestContext();
  });
  after(() => fake.cleanup());
  const start = () =>
    fake.runtime.start({
      id: `durable-${++count}`,
      image: { name: 'default' },
      limits: { memoryMiB: 64, cpus: 1, pidsMax: 64 },
      network: { egress: 'none' },
    });
  /** Detaches and attaches again: what a server restart does to a sandbox. */
  const reconnect = async (sandbox: FakeSandbox) => {
    await sandbox.detach();
    return fake.runtime.attach(sandbox.id);
  };
  const execOf = async (sandbox: FakeSandbox, key: string) =>
    (await sandbox.listExecs()).find((exec) => exec.key === key);

  test('a detach ends the commands without a key; keyed ones run on, their stdin closed', async () => {
    const first = await start();
    const plain = first.exec(shell('sleep 600'));
    const keyed = first.exec({ ...shell('cat; echo "stdin closed"'), stdin: true, key: 'reader' });
    keyed.writeStdin('typed\n');
    await new Promise<void>((resolve) => keyed.stdout.once('data', () => resolve()));
    await first.detach();
    assert.deepEqual(await plain.exited, { exitCode: null, signal: 'SIGKILL' });
    await assert.rejects(keyed.exited, { code: 'guest_closed' });
    assert.equal(fake.runtime.running.has(first), false, 'a detached handle is let go');
    assert.throws(() => first.exec(shell('true')), { code: 'sandbox_ended' });
    // Stopping through a detached handle is no longer its to do.
    await first.stop();
    assert.ok((await fake.runtime.list()).some((info) => info.id === first.id));

    const second = await fake.runtime.attach(first.id);
    const resumed = await collect(second.resumeExec('reader', { stdoutOffset: 'typed\n'.length }));
    assert.equal(resumed.stdout.toString(), 'stdin closed\n');
    assert.equal(resumed.exitCode, 0);
    await second.stop();
    assert.deepEqual(await fake.runtime.list(), []);
  });

  test('an end nobody received is kept until resumed, then forgotten; one delivered is forgotten at once', async () => {
    const first = await start();
    await collect(first.exec(shell('echo done; exit 5', { key: 'delivered' })));
    const running = first.exec(
      shell('while [ ! -e go ]; do sleep 0.01; done; echo late; exit 6', { key: 'kept' }),
    );
    running.exited.catch(() => {});
    const second = await reconnect(first);
    await assert.rejects(second.resumeExec('delivered').exited, { errno: 2 });
    await assert.rejects(second.resumeExec('delivered').resumed, { errno: 2 });
    // It ends while nobody holds it.
    await second.writeFile('/workspace/go', Buffer.from(''));
    const third = await reconnect(second);
    await waitUntil(async () => (await execOf(third, 'kept'))?.exited === true, 10_000);
    assert.deepEqual(await execOf(third, 'kept'), {
      key: 'kept',
      pid: (await execOf(third, 'kept'))?.pid,
      exited: true,
      attached: false,
      exitCode: 6,
      signal: null,
      stdoutBytes: 'late\n'.length,
      stderrBytes: 0,
    });
    const resumed = third.resumeExec('kept');
    const result = await collect(resumed);
    assert.deepEqual(await resumed.resumed, {
      pid: (await resumed.resumed).pid,
      stdoutOffset: 0,
      stderrOffset: 0,
    });
    assert.equal(result.stdout.toString(), 'late\n');
    assert.equal(result.exitCode, 6);
    assert.deepEqual(await third.listExecs(), []);
    await third.stop();
  });

  test('refused: a key held by another handle, offsets beyond the output, a key in use', async () => {
    const first = await start();
    const job = first.exec(shell('echo out; sleep 600', { key: 'job' }));
    await new Promise<void>((resolve) => job.stdout.once('data', () => resolve()));
    // A second handle while the first still holds it (two live servers): EBUSY.
    const other = await fake.runtime.attach(first.id);
    await assert.rejects(other.resumeExec('job').exited, { errno: 16 });
    assert.equal((await execOf(other, 'job'))?.attached, true);
    await assert.rejects(collect(other.exec(shell('true', { key: 'job' }))), { errno: 17 });
    await first.detach();
    await assert.rejects(other.resumeExec('job', { stdoutOffset: 5 }).exited, { errno: 22 });
    const resumed = other.resumeExec('job', { stdoutOffset: 4 });
    assert.equal((await resumed.resumed).stdoutOffset, 4);
    resumed.signal('SIGTERM');
    assert.deepEqual(await resumed.exited, { exitCode: null, signal: 'SIGTERM' });
    await other.stop();
  });

  test('forgetExec (FORGET) drops a kept end and kills a running exec; false for an unknown key, EBUSY while held', async () => {
    const first = await start();
    const ending = first.exec(
      shell('echo kept; while [ ! -e go ]; do sleep 0.01; done; exit 4', { key: 'ended' }),
    );
    ending.exited.catch(() => {});
    const running = first.exec(shell('echo started; sleep 600; echo never', { key: 'running' }));
    running.exited.catch(() => {});
    await new Promise<void>((resolve) => running.stdout.once('data', () => resolve()));
    // The handle that started it holds it: FORGET is for execs nobody holds.
    await assert.rejects(first.forgetExec('running'), { errno: 16 });
    const second = await reconnect(first);
    await second.writeFile('/workspace/go', Buffer.from(''));
    await waitUntil(async () => (await execOf(second, 'ended'))?.exited === true, 10_000);
    assert.equal((await execOf(second, 'running'))?.exited, false);

    assert.equal(await second.forgetExec('ended'), true);
    assert.equal(await second.forgetExec('running'), true);
    assert.deepEqual(await second.listExecs(), []);
    // The running one was killed with its process group: nothing of either is left.
    await waitUntil(async () => (await second.usage()).processes === 0, 10_000);
    await assert.rejects(second.resumeExec('ended').exited, { errno: 2 });
    await assert.rejects(second.resumeExec('running').exited, { errno: 2 });
    assert.equal(await second.forgetExec('ended'), false, 'already forgotten');
    assert.equal(await second.forgetExec('never-ran'), false);
    // Its key is free again; a resumed exec is held by the handle that resumed it.
    const again = second.exec(shell('echo again; sleep 600', { key: 'running' }));
    await new Promise<void>((resolve) => again.stdout.once('data', () => resolve()));
    const third = await fake.runtime.attach(second.id);
    await assert.rejects(third.forgetExec('running'), { errno: 16 });
    await second.detach();
    const resumed = third.resumeExec('running');
    await resumed.resumed;
    await assert.rejects(third.forgetExec('running'), { errno: 16 });
    resumed.signal('SIGKILL');
    assert.deepEqual(await resumed.exited, { exitCode: null, signal: 'SIGKILL' });
    await third.stop();
  });

  test('bytes a handle read are acknowledged: asked for again, the replay starts after them', async () => {
    const first = await start();
    const job = first.exec(
      shell(`head -c 600000 /dev/zero | tr '\\0' a; while [ ! -e go ]; do sleep 0.01; done`, {
        key: 'read',
      }),
    );
    job.exited.catch(() => {});
    let read = 0;
    await new Promise<void>((resolve) => {
      job.stdout.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read === 600_000) resolve();
      });
    });
    const second = await reconnect(first);
    const resumed = second.resumeExec('read');
    const { stdoutOffset } = await resumed.resumed;
    // Acknowledged in batches as they are read, like the guest client's OUTPUT_ACKs.
    assert.ok(stdoutOffset > 0 && stdoutOffset <= 600_000, `${stdoutOffset}`);
    await second.writeFile('/workspace/go', Buffer.from(''));
    const rest = await collect(resumed);
    assert.equal(rest.stdout.length, 600_000 - stdoutOffset);
    await second.stop();
  });

  test('a detached exec keeps up to 8 MiB of a stream, then its command waits: no byte is dropped', async () => {
    const first = await start();
    const totalBytes = retainLimitBytes + 2 * 1024 * 1024;
    const job = first.exec(
      shell(`head -c ${totalBytes} /dev/zero; echo done >&2`, { key: 'flood' }),
    );
    job.exited.catch(() => {});
    const second = await reconnect(first);
    await waitUntil(
      async () => ((await execOf(second, 'flood'))?.stdoutBytes ?? 0) >= retainLimitBytes,
      20_000,
    );
    const held = await execOf(second, 'flood');
    assert.equal(held?.exited, false, 'it waits for a reader');
    // At most one read beyond the limit (a pipe's chunk) was taken before the pipe was paused.
    assert.ok((held?.stdoutBytes ?? 0) < retainLimitBytes + 1024 * 1024, `${held?.stdoutBytes}`);
    const result = await collect(second.resumeExec('flood'));
    assert.equal(result.stdout.length, totalBytes);
    assert.ok(result.stdout.every((byte) => byte === 0));
    assert.equal(result.stderr.toString(), 'done\n');
    assert.equal(result.exitCode, 0);
    await second.stop();
  });
});
