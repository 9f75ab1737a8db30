/**
 * The fake runtime: the shared runtime contract, minus what only isolation gives (listed by name,
 * with the reason), then what the upper layers' tests rely on it for.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { collect, runRuntimeContract, shell } from '../runtime-contract.ts';
import { createFakeRuntime } from './fake-runtime.ts';

const noIsolation = 'the fake runtime isolates nothing: commands run as host processes';

runRuntimeContract('fake', {
  async setup() {
    const image = await mkdtemp(join(tmpdir(), 'mags-fake-image-'));
    return {
      runtime: createFakeRuntime(),
      rootfs: async () => ({ lowerDirs: [image] }),
      cleanup: () => rm(image, { recursive: true, force: true }),
    };
  },
  skip: [
    {
      reason: noIsolation,
      tests: [
        'runs as root inside, but root is not root outside',
        'does not see host files or host processes',
        'has no network but loopback unless asked',
      ],
    },
    {
      reason: 'the fake runtime has no UTS namespace: commands see the host name',
      tests: ['a sandbox has the hostname its spec gives'],
    },
  ],
});

const directory = await mkdtemp(join(tmpdir(), 'mags-fake-layers-'));
after(() => rm(directory, { recursive: true, force: true }));

describe('fake runtime layers and locks', () => {
  const runtime = createFakeRuntime();
  const image = join(directory, 'image');
  const upperDir = join(directory, 'workspace-a', 'upper');
  const writable = { upperDir, workDir: join(directory, 'workspace-a', 'work') };
  const limits = { memoryMiB: 64, cpus: 1, pidsMax: 64 };
  before(() => mkdir(image));

  test('a writable layer keeps what /workspace got, where an overlay would put it', async () => {
    const sandbox = await runtime.start({
      id: 'layers-writer',
      rootfs: { lowerDirs: [image], writable },
      limits,
      network: false,
    });
    await collect(sandbox.exec(shell('echo kept > note')));
    await sandbox.stop();
    assert.equal(await readFile(join(upperDir, 'workspace', 'note'), 'utf8'), 'kept\n');
  });

  test('a read-only layer is seen through a throw-away copy', async () => {
    const sandbox = await runtime.start({
      id: 'layers-reader',
      rootfs: { lowerDirs: [upperDir, image] },
      limits,
      network: false,
    });
    const result = await collect(sandbox.exec(shell('cat note; echo changed > note')));
    assert.equal(result.stdout.toString(), 'kept\n');
    const copy = sandbox.workspaceDirectory;
    await sandbox.stop();
    assert.equal(await readFile(join(upperDir, 'workspace', 'note'), 'utf8'), 'kept\n');
    assert.equal(existsSync(copy), false, 'the copy is removed with the sandbox');
  });

  test('one writer per lock, readers shared, released on stop', async () => {
    const lock = join(directory, 'lock');
    const spec = (id: string, locks: { exclusive?: string[]; shared?: string[] }) => ({
      id,
      rootfs: { lowerDirs: [image] },
      limits,
      network: false,
      locks,
    });
    const reader = await runtime.start(spec('reader-1', { shared: [lock] }));
    const second = await runtime.start(spec('reader-2', { shared: [lock] }));
    await assert.rejects(runtime.start(spec('writer', { exclusive: [lock] })), {
      name: 'ConflictError',
    });
    await reader.stop();
    await second.stop();
    const writer = await runtime.start(spec('writer', { exclusive: [lock] }));
    await assert.rejects(runtime.start(spec('reader-3', { shared: [lock] })), {
      name: 'ConflictError',
    });
    await writer.stop();
    assert.equal(runtime.running.size, 0);
  });

  test('stdin reaches the command; a program that cannot start is guest_exec_failed', async () => {
    const sandbox = await runtime.start({
      id: 'stdin',
      rootfs: { lowerDirs: [image] },
      limits,
      network: false,
    });
    const command = sandbox.exec({ ...shell('tr a-z A-Z'), stdin: true });
    command.writeStdin('hello\n');
    command.closeStdin();
    assert.equal((await collect(command)).stdout.toString(), 'HELLO\n');
    const missing = sandbox.exec({ ...shell(''), argv: ['/no/such/program'] });
    await assert.rejects(missing.exited, { code: 'guest_exec_failed' });
    const signalled = sandbox.exec(shell('sleep 100'));
    signalled.signal('SIGTERM');
    assert.deepEqual(await signalled.exited, { exitCode: null, signal: 'SIGTERM' });
    await writeFile(join(sandbox.workspaceDirectory, 'plain'), 'x');
    await assert.rejects(sandbox.writeFile('/etc/mags-fake', Buffer.from('x')), {
      statusCode: 403,
    });
    await sandbox.stop();
    assert.throws(() => sandbox.exec(shell('true')), { code: 'sandbox_ended' });
  });
});
