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
import { createTestContext, type FakeTestContext } from '../../../test/helpers/test-context.ts';
import { NotFoundError } from '../../errors/mags-error.ts';
import type { SandboxSpec, WorkspaceReference } from '../runtime.ts';
import { collect, runRuntimeContract, shell } from '../runtime-contract.ts';
import { createFakeRuntime } from './fake-runtime.ts';

const noIsolation = 'the fake runtime isolates nothing: commands run as host processes';
const noUtsNamespace = 'the fake runtime has no UTS namespace: commands see the host name';

runRuntimeContract('fake', {
  async setup() {
    const fake = await createTestContext();
    return { runtime: fake.runtime, image: { name: 'default' }, cleanup: fake.cleanup };
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
      reason: noUtsNamespace,
      tests: [
        'a sandbox has the hostname its spec gives',
        'a prepared sandbox has the hostname its attach spec gives',
      ],
    },
    {
      reason: 'the fake runtime has no guest agent to relay a port (capability ports is false)',
      tests: [
        'reaches a server inside the sandbox through openPort, without a network',
        'openPort where nothing listens is a 502 that names the port',
      ],
    },
  ],
});

describe('fake runtime layers and locks', () => {
  let fake: FakeTestContext;
  before(async () => {
    fake = await createTestContext();
  });
  after(() => fake.cleanup());
  const limits = { memoryMiB: 64, cpus: 1, pidsMax: 64 };
  const spec = (id: string, workspace?: WorkspaceReference): SandboxSpec => ({
    id,
    image: { name: 'default' },
    ...(workspace ? { workspace } : {}),
    limits,
    network: { egress: 'none' },
  });

  test('a writable workspace keeps what /workspace got, where an overlay would put it', async () => {
    const workspace = { name: 'a', access: 'writable' } as const;
    const sandbox = await fake.runtime.start(spec('layers-writer', workspace));
    assert.deepEqual(sandbox.workspace, workspace);
    await collect(sandbox.exec(shell('echo kept > note')));
    await sandbox.stop();
    const paths = await fake.workspaces.open('a');
    assert.equal(await readFile(join(paths.upperDir, 'workspace', 'note'), 'utf8'), 'kept\n');
    assert.equal((await fake.workspaces.get('a'))?.image, 'default');
  });

  test('a read-only workspace is seen through a throw-away copy', async () => {
    const sandbox = await fake.runtime.start(
      spec('layers-reader', { name: 'a', access: 'read-only' }),
    );
    const result = await collect(sandbox.exec(shell('cat note; echo changed > note')));
    assert.equal(result.stdout.toString(), 'kept\n');
    const copy = sandbox.workspaceDirectory;
    await sandbox.stop();
    const paths = await fake.workspaces.open('a');
    assert.equal(await readFile(join(paths.upperDir, 'workspace', 'note'), 'utf8'), 'kept\n');
    assert.equal(existsSync(copy), false, 'the copy is removed with the sandbox');
  });

  test('a missing read-only workspace or image is an error, not an empty directory', async () => {
    await assert.rejects(
      fake.runtime.start(spec('missing-workspace', { name: 'never-made', access: 'read-only' })),
      NotFoundError,
    );
    await assert.rejects(
      fake.runtime.start({ ...spec('missing-image'), image: { name: 'no-such-image' } }),
      /not built/,
    );
    assert.equal(fake.runtime.running.size, 0);
  });

  test('one writer or many readers per workspace name, released on stop', async () => {
    const reader = (id: string) => spec(id, { name: 'a', access: 'read-only' });
    const writer = (id: string) => spec(id, { name: 'a', access: 'writable' });
    const first = await fake.runtime.start(reader('reader-1'));
    const second = await fake.runtime.start(reader('reader-2'));
    await assert.rejects(fake.runtime.start(writer('writer')), { name: 'ConflictError' });
    // Another workspace's writer is not held up.
    const other = await fake.runtime.start(spec('other', { name: 'b', access: 'writable' }));
    await first.stop();
    await second.stop();
    const only = await fake.runtime.start(writer('writer'));
    await assert.rejects(fake.runtime.start(reader('reader-3')), { name: 'ConflictError' });
    await assert.rejects(fake.runtime.start(writer('writer-2')), { name: 'ConflictError' });
    await only.stop();
    await other.stop();
    assert.equal(fake.runtime.running.size, 0);
  });

  test('a stored version is a read-only copy of its snapshot, and takes no lock', async () => {
    const snapshots = await mkdtemp(join(tmpdir(), 'mags-fake-snapshots-'));
    try {
      const upper = join(snapshots, 'a@3', 'upper');
      await mkdir(join(upper, 'workspace'), { recursive: true });
      await writeFile(join(upper, 'workspace', 'note'), 'stored\n');
      const asked: string[] = [];
      const runtime = createFakeRuntime({
        stores: {
          workspaces: fake.workspaces,
          sync: {
            async snapshot(name, version) {
              asked.push(`${name}@${version}`);
              return upper;
            },
          },
        },
      });
      const version = { name: 'a', access: 'read-only', version: 3 } as const;
      const writer = await runtime.start(spec('writer', { name: 'a', access: 'writable' }));
      const reader = await runtime.start(spec('version', version));
      const result = await collect(reader.exec(shell('cat note; echo changed > note')));
      assert.equal(result.stdout.toString(), 'stored\n');
      assert.deepEqual(asked, ['a@3']);
      await Promise.all([reader.stop(), writer.stop()]);
      assert.equal(await readFile(join(upper, 'workspace', 'note'), 'utf8'), 'stored\n');
      // Without a store for stored versions, the fake says so instead of an empty directory.
      await assert.rejects(createFakeRuntime().start(spec('no-sync', version)), {
        code: 'sandbox_start_failed',
        message: /without a store for stored versions/,
      });
    } finally {
      await rm(snapshots, { recursive: true, force: true });
    }
  });

  test('stdin reaches the command; a program that cannot start is guest_exec_failed', async () => {
    const sandbox = await fake.runtime.start(spec('stdin'));
    const command = sandbox.exec({ ...shell('tr a-z A-Z'), stdin: true });
    command.writeStdin('hello\n');
    command.closeStdin();
    assert.equal((await collect(command)).stdout.toString(), 'HELLO\n');
    const missing = sandbox.exec({ ...shell(''), argv: ['/no/such/program'] });
    await assert.rejects(missing.exited, { code: 'guest_exec_failed' });
    const signalled = sandbox.exec(shell('sleep 100'));
    signalled.signal('SIGTERM');
    assert.deepEqual(await signalled.exited, { exitCode: null, signal: 'SIGTERM' });
    await assert.rejects(sandbox.writeFile('/etc/mags-fake', Buffer.from('x')), {
      statusCode: 403,
    });
    assert.throws(() => sandbox.exec({ ...shell('true'), tty: { rows: 24, cols: 80 } }), {
      name: 'CapabilityUnsupportedError',
      capability: 'tty',
    });
    await sandbox.stop();
    assert.throws(() => sandbox.exec(shell('true')), { code: 'sandbox_ended' });
  });
});
