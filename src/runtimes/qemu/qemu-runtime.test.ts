/**
 * The qemu runtime (under TCG here): the shared runtime contract, with the tests a VM cannot pass
 * named and why; then the workspace semantics it shares with the namespace runtime (the same
 * layers, mounted on the host and exported over 9p). The attacks are in qemu-escape.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MagsError } from '../../errors/mags-error.ts';
import { scanLayer } from '../../workspaces/sync/layer-scan.ts';
import { loadManifest } from '../../workspaces/sync/versions.ts';
import type { Runtime, Sandbox, SandboxSpec } from '../runtime.ts';
import { collect, runRuntimeContract, shell } from '../runtime-contract.ts';
import { type QemuTestSetup, setupQemuRuntime } from './fixtures/qemu-runtime-on-home.ts';

runRuntimeContract('qemu', {
  async setup() {
    const setup = await setupQemuRuntime();
    if ('skip' in setup) {
      process.stdout.write(`# skipping the qemu runtime contract: ${setup.skip}\n`);
      return setup;
    }
    return { runtime: setup.runtime, image: { name: 'default' }, cleanup: setup.home.cleanup };
  },
  skip: [
    {
      reason:
        "a VM's root is its own kernel's root: the guest has no user namespace, so its uid_map is " +
        'the identity; on the host QEMU runs as the subordinate root (qemu-escape.test.ts checks it)',
      tests: ['runs as root inside, but root is not root outside'],
    },
    {
      reason:
        "a VM's /proc lists its own kernel's threads (about 40 kthreads), never the host's " +
        'processes, so a count under 10 cannot hold; qemu-escape.test.ts looks for a host process ' +
        'by its argv instead',
      tests: ['does not see host files or host processes'],
    },
    {
      reason:
        "mkfifo fails with ENXIO on the 9p root: QEMU's 9p server refuses special files since " +
        'the CVE-2023-2861 fix ("9p: broken or compromised client detected; attempt to open ' +
        'special file"), so the test cannot make its FIFO',
      tests: [
        'streams a regular file with its size first; refuses the rest; a cancelled read ends',
      ],
    },
  ],
});

describe('qemu workspaces: the layers the namespace runtime uses', () => {
  let setup: QemuTestSetup | undefined;
  let skipReason: string | undefined;
  const sandboxes: Sandbox[] = [];
  before(async () => {
    const result = await setupQemuRuntime();
    if ('skip' in result) {
      skipReason = result.skip;
      process.stdout.write(`# skipping the qemu workspace tests: ${skipReason}\n`);
    } else setup = result;
  });
  after(async () => {
    await Promise.all(sandboxes.map((sandbox) => sandbox.stop()));
    await setup?.home.cleanup();
  });
  const it = (title: string, body: (setup: QemuTestSetup) => Promise<void>) =>
    test(title, async (t) => {
      if (skipReason || !setup) return t.skip(skipReason);
      await body(setup);
    });
  async function start(runtime: Runtime, workspace: SandboxSpec['workspace']): Promise<Sandbox> {
    const sandbox = await runtime.start({
      id: `workspace-${randomBytes(4).toString('hex')}`,
      image: { name: 'default' },
      workspace,
      limits: { memoryMiB: 256, cpus: 1, pidsMax: 128 },
      network: { egress: 'none' },
    });
    sandboxes.push(sandbox);
    return sandbox;
  }
  const run = async (sandbox: Sandbox, script: string) =>
    (await collect(sandbox.exec(shell(script)))).stdout.toString();

  it('writes, a whiteout and an opaque directory land in the layer, the sync and a namespace sandbox', async ({
    runtime,
    namespaceRuntime,
    workspaces,
    sync,
  }) => {
    const writer = await start(runtime, { name: 'shared', access: 'writable' });
    assert.equal(
      await run(
        writer,
        // A new file; a file of the image deleted (a whiteout); a directory of the image replaced
        // by a new one (opaque: nothing of the image's shows through it).
        'echo kept > /workspace/file && rm /etc/hostname && rm -rf /etc/apt && mkdir /etc/apt && echo mine > /etc/apt/only && echo ok',
      ),
      'ok\n',
    );
    await writer.stop();

    const { upperDir } = await workspaces.open('shared');
    const entries = new Map(
      (await scanLayer(upperDir)).map((entry) => [entry.path.toString(), entry]),
    );
    assert.equal(entries.get('workspace/file')?.type, 'f');
    assert.equal(entries.get('workspace/file')?.uid, workspaces.idMapping.toHost(0));
    assert.equal(entries.get('etc/hostname')?.type, 'w');
    assert.equal(entries.get('etc/apt')?.opaque, true);
    assert.equal(entries.get('etc/apt/only')?.type, 'f');

    const pushed = await sync.push('shared');
    assert.equal(pushed.committed, true);
    const manifest = await loadManifest(sync.store, 'shared', pushed.version);
    const stored = new Map(manifest.entries.map((entry) => [String(entry.path), entry]));
    assert.equal(stored.get('workspace/file')?.type, 'file');
    assert.equal(stored.get('etc/hostname')?.type, 'whiteout');
    const apt = stored.get('etc/apt');
    assert.ok(apt?.type === 'directory' && apt.opaque === true, JSON.stringify(apt));

    const reader = await start(namespaceRuntime, { name: 'shared', access: 'writable' });
    assert.equal(
      await run(
        reader,
        'cat /workspace/file; test -e /etc/hostname || echo gone; ls /etc/apt; echo ns > /workspace/from-namespace',
      ),
      'kept\ngone\nonly\n',
    );
    await reader.stop();
  });

  it('a read-only reference sees the workspace beneath a throw-away layer', async ({
    runtime,
    workspaces,
  }) => {
    const reader = await start(runtime, { name: 'shared', access: 'read-only' });
    assert.deepEqual(reader.workspace, { name: 'shared', access: 'read-only' });
    assert.equal(
      await run(
        reader,
        'cat /workspace/file /workspace/from-namespace; echo lost > /workspace/file; echo new > /workspace/scratch; cat /workspace/file',
      ),
      'kept\nns\nlost\n',
    );
    await reader.stop();
    const { upperDir } = await workspaces.open('shared');
    assert.equal(await readFile(join(upperDir, 'workspace', 'file'), 'utf8'), 'kept\n');
    await assert.rejects(readFile(join(upperDir, 'workspace', 'scratch')), { code: 'ENOENT' });
  });
});

describe('qemu start errors', () => {
  test('a VM whose agent does not answer in time: the error carries its console and what to try', async (t) => {
    // Far less than a boot takes (about 2 s under TCG here), so the agent cannot answer in time.
    const setup = await setupQemuRuntime({ startTimeoutMs: 300 });
    if ('skip' in setup) return t.skip(setup.skip);
    try {
      await assert.rejects(
        setup.runtime.start({
          id: `silent-${randomBytes(4).toString('hex')}`,
          image: { name: 'default' },
          limits: { memoryMiB: 256, cpus: 1, pidsMax: 64 },
          network: { egress: 'none' },
        }),
        (error: unknown) => {
          assert.ok(error instanceof MagsError, String(error));
          assert.equal(error.code, 'sandbox_start_failed');
          // The console so far (what QEMU and the guest printed), or that there was none yet.
          assert.match(
            error.message,
            /did not start: .*(end of the launcher's log:\n|launcher's log is empty)/s,
          );
          assert.match(error.hint ?? '', /MAGS_QEMU_ACCEL=tcg/);
          assert.match(error.hint ?? '', /mags image build --runtime qemu --force/);
          return true;
        },
      );
      // The failed start left nothing behind.
      assert.deepEqual(await readdir(join(setup.home.home, 'run')).catch(() => []), []);
    } finally {
      await setup.home.cleanup();
    }
  });
});
