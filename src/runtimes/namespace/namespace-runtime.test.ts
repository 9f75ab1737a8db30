/**
 * The namespace runtime: the shared runtime contract, then attacks on the sandbox itself —
 * every check here is something a hostile command inside would try.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createTestHome,
  sandboxSkipReason,
  type TestHome,
} from '../../../test/helpers/test-home.ts';
import { nativeBinaryPath } from '../../config/package-paths.ts';
import { ConflictError, NotFoundError } from '../../errors/mags-error.ts';
import { ImageStore } from '../../images/image-store.ts';
import { createFilesystemObjectStore } from '../../storage/filesystem/filesystem-object-store.ts';
import { minimalDevEntries } from '../../testing/minimal-dev.ts';
import { layersLockPath } from '../../workspaces/workspace-layers.ts';
import { acquireLock } from '../../workspaces/workspace-lock.ts';
import { WorkspaceStore } from '../../workspaces/workspace-store.ts';
import { WorkspaceSync } from '../../workspaces/workspace-sync.ts';
import type { Runtime, Sandbox, SandboxSpec } from '../runtime.ts';
import { collect, runRuntimeContract, shell } from '../runtime-contract.ts';
import { createShiftedIdMapping } from './id-mapping.ts';
import { createNamespaceRuntime, defaultUidBase } from './namespace-runtime.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping namespace runtime tests: ${skip}\n`);

async function setupRuntime(): Promise<{
  runtime: Runtime;
  home: TestHome;
  imageRootfs: string;
  workspaces: WorkspaceStore;
}> {
  const home = await createTestHome();
  // The stores the composition root would wire, on the test home (images shared, see test-home).
  const idMapping = createShiftedIdMapping();
  const workspaces = new WorkspaceStore({ home: home.home, idMapping });
  const runtime = createNamespaceRuntime({
    home: home.home,
    idMapping,
    stores: {
      images: new ImageStore({ home: home.home, idMapping }),
      workspaces,
      sync: new WorkspaceSync({
        store: createFilesystemObjectStore({ root: join(home.home, 'store') }),
        workspaces,
        home: home.home,
      }),
    },
    launcherPath: nativeBinaryPath('mags-sandbox'),
    agentPath: nativeBinaryPath('mags-agent'),
  });
  return {
    runtime,
    home,
    imageRootfs: join(home.home, 'images', 'default', 'rootfs'),
    workspaces,
  };
}

runRuntimeContract('namespace', {
  async setup() {
    if (skip) return { skip };
    const { runtime, home } = await setupRuntime();
    return { runtime, image: { name: 'default' }, cleanup: home.cleanup };
  },
});

describe('overlay layer provider: workspace references', { skip }, () => {
  let runtime: Runtime;
  let home: TestHome;
  let workspaces: WorkspaceStore;
  const sandboxes: Sandbox[] = [];
  before(async () => {
    ({ runtime, home, workspaces } = await setupRuntime());
  });
  after(async () => {
    await Promise.all(sandboxes.map((sandbox) => sandbox.stop()));
    await home.cleanup();
  });
  async function start(workspace: SandboxSpec['workspace']): Promise<Sandbox> {
    const sandbox = await runtime.start({
      id: `layers-${randomBytes(4).toString('hex')}`,
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

  test('writable: one writer at a time, its writes kept; read-only: readers share it, writes thrown away', async () => {
    const writer = await start({ name: 'ws', access: 'writable' });
    assert.deepEqual(writer.workspace, { name: 'ws', access: 'writable' });
    assert.equal(await run(writer, 'echo kept > /workspace/file; echo ok'), 'ok\n');
    // The exclusive lock: a second writer is refused while the first runs.
    await assert.rejects(start({ name: 'ws', access: 'writable' }), ConflictError);
    await writer.stop();
    const readers = [
      await start({ name: 'ws', access: 'read-only' }),
      await start({ name: 'ws', access: 'read-only' }),
    ];
    for (const reader of readers) {
      assert.equal(await run(reader, 'cat /workspace/file; echo lost > /workspace/file'), 'kept\n');
    }
    // Readers hold the lock shared: no writer meanwhile.
    await assert.rejects(start({ name: 'ws', access: 'writable' }), ConflictError);
    await Promise.all(readers.map((reader) => reader.stop()));
    const again = await start({ name: 'ws', access: 'writable' });
    assert.equal(await run(again, 'cat /workspace/file'), 'kept\n');
    await again.stop();
  });

  test("a fork: writable and read-only sandboxes see its source's frozen layer, held shared", async () => {
    const source = await start({ name: 'fork-source', access: 'writable' });
    assert.equal(await run(source, 'echo base > /workspace/file; echo ok'), 'ok\n');
    await source.stop();
    await workspaces.fork('fork-source', 'fork');
    // The source's disk holds the frozen layer both read; a writer past it would take this lock.
    const sourceLayersLock = layersLockPath(workspaces.paths('fork-source').directory);
    const lockHeld = async () => {
      const lock = await acquireLock(
        sourceLayersLock,
        'exclusive',
        () => new ConflictError('held'),
      ).catch((error: unknown) => {
        if (error instanceof ConflictError) return undefined;
        throw error;
      });
      await lock?.release();
      return lock === undefined;
    };
    assert.equal(await lockHeld(), false);

    const writer = await start({ name: 'fork', access: 'writable' });
    assert.equal(await run(writer, 'cat /workspace/file; echo mine > /workspace/file'), 'base\n');
    assert.equal(await lockHeld(), true);
    await writer.stop();
    assert.equal(await lockHeld(), false);

    const reader = await start({ name: 'fork', access: 'read-only' });
    assert.equal(await run(reader, 'cat /workspace/file'), 'mine\n');
    assert.equal(await lockHeld(), true);
    await reader.stop();

    // The fork's writes never reached its source.
    const again = await start({ name: 'fork-source', access: 'writable' });
    assert.equal(await run(again, 'cat /workspace/file'), 'base\n');
    await again.stop();
  });

  test('a missing read-only workspace or image is an error, not an empty layer', async () => {
    await assert.rejects(start({ name: 'never-made', access: 'read-only' }), NotFoundError);
    await assert.rejects(
      runtime.start({
        id: `layers-${randomBytes(4).toString('hex')}`,
        image: { name: 'no-such-image' },
        limits: { memoryMiB: 256, cpus: 1, pidsMax: 128 },
        network: { egress: 'none' },
      }),
      /not built/,
    );
    // Nothing is left of sandboxes that never started.
    const left = await readdir(join(home.home, 'run')).catch(() => []);
    assert.deepEqual(
      left.filter((name) => !sandboxes.some((sandbox) => sandbox.id === name)),
      [],
    );
  });
});

describe('namespace sandbox isolation (escape attempts)', { skip }, () => {
  let runtime: Runtime;
  let home: TestHome;
  let imageRootfs: string;
  const sandboxes: Sandbox[] = [];
  before(async () => {
    ({ runtime, home, imageRootfs } = await setupRuntime());
  });
  after(async () => {
    await Promise.all(sandboxes.map((sandbox) => sandbox.stop()));
    await home.cleanup();
  });
  async function start(overrides: Partial<SandboxSpec> = {}): Promise<Sandbox> {
    const sandbox = await runtime.start({
      id: `escape-${randomBytes(4).toString('hex')}`,
      image: { name: 'default' },
      limits: { memoryMiB: 256, cpus: 1, pidsMax: 128 },
      network: { egress: 'none' },
      ...overrides,
    });
    sandboxes.push(sandbox);
    return sandbox;
  }
  const run = async (sandbox: Sandbox, script: string) => collect(sandbox.exec(shell(script)));

  test('no_new_privs, seccomp filter, and only a reduced set of namespaced capabilities', async () => {
    const sandbox = await start();
    const status = (
      await run(sandbox, 'grep -E "^(NoNewPrivs|Seccomp|CapEff|CapBnd):" /proc/self/status')
    ).stdout.toString();
    assert.match(status, /NoNewPrivs:\s+1/);
    assert.match(status, /Seccomp:\s+2/);
    const bounding = BigInt(`0x${/CapBnd:\s+([0-9a-f]+)/.exec(status)?.[1]}`);
    const sysAdmin = 1n << 21n;
    const sysModule = 1n << 16n;
    assert.equal(bounding & sysAdmin, 0n, 'CAP_SYS_ADMIN must be dropped');
    assert.equal(bounding & sysModule, 0n, 'CAP_SYS_MODULE must be dropped');
  });

  test('cannot mount, create namespaces, load modules or use bpf/keyrings', async () => {
    const sandbox = await start();
    const result = await run(
      sandbox,
      [
        'mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>/dev/null && echo MOUNTED',
        'unshare -U true 2>/dev/null && echo USERNS',
        'unshare -m true 2>/dev/null && echo MOUNTNS',
        // perl-base is in every Debian image: it makes raw syscalls the shell cannot. EPERM (1) is
        // what the seccomp filter answers; without it these calls fail differently or succeed.
        `perl -e 'exit(syscall(321, 0, 0, 0) == -1 && $!+0 == 1 ? 0 : 1)' || echo BPF`, // bpf
        `perl -e 'exit(syscall(250, 0, 0, 0, 0, 0) == -1 && $!+0 == 1 ? 0 : 1)' || echo KEYCTL`, // keyctl
        `perl -e 'exit(syscall(323, 0) == -1 && $!+0 == 1 ? 0 : 1)' || echo USERFAULTFD`, // userfaultfd
        `perl -e 'my $s = ""; exit(syscall(313, 0, $s, 0) == -1 && $!+0 == 1 ? 0 : 1)' || echo FINIT_MODULE`, // finit_module
        'echo done',
      ].join('; '),
    );
    assert.equal(result.stdout.toString(), 'done\n');
  });

  test('has a minimal /dev and no /sys', async () => {
    const sandbox = await start();
    const result = await run(
      sandbox,
      'ls /dev | sort | tr "\\n" " "; echo; ls /sys 2>/dev/null | wc -l',
    );
    const [devices, sysEntries] = result.stdout.toString().trim().split('\n');
    for (const name of (devices ?? '').trim().split(' ')) {
      assert.ok(minimalDevEntries.includes(name), `unexpected /dev entry ${name}`);
    }
    assert.equal(sysEntries, '0');
    const disk = await run(
      sandbox,
      'test -e /dev/vda || test -e /dev/sda || test -e /dev/mem || test -e /dev/kmsg && echo FOUND; echo ok',
    );
    assert.equal(disk.stdout.toString(), 'ok\n');
  });

  test('processes run as an unprivileged host uid', async () => {
    const sandbox = await start();
    const process = sandbox.exec(shell('echo $$; sleep 5'));
    const chunks: Buffer[] = [];
    process.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    while (!Buffer.concat(chunks).includes('\n'))
      await new Promise((resolve) => setTimeout(resolve, 20));
    // The sandbox's own pid namespace numbers its processes; find the host pid through the cgroup.
    const hostPids = new Set<string>();
    for (const root of ['/sys/fs/cgroup/pids/mags', '/sys/fs/cgroup/mags']) {
      const procs = await readFile(join(root, sandbox.id, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const pid of procs.split('\n').filter(Boolean)) hostPids.add(pid);
    }
    assert.ok(hostPids.size > 0, 'no processes found in the sandbox cgroup');
    for (const pid of hostPids) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/).map(Number) ?? [];
      if (uids.length === 0) continue; // exited meanwhile
      // The launcher process stays outside as host root; every process inside maps to the range.
      const inside =
        (await readFile(`/proc/${pid}/uid_map`, 'utf8')).trim().split(/\s+/)[1] !== '0';
      if (inside)
        for (const uid of uids)
          assert.ok(uid >= defaultUidBase, `pid ${pid} runs as host uid ${uid}`);
    }
    process.signal('SIGKILL');
  });

  test('memory, CPU and process limits are set on the host side, where the sandbox cannot change them', async () => {
    const sandbox = await start({ limits: { memoryMiB: 300, cpus: 0.5, pidsMax: 77 } });
    const read = (path: string) =>
      readFile(path, 'utf8').then(
        (text) => text.trim(),
        () => undefined,
      );
    const v2 = await read(`/sys/fs/cgroup/mags/${sandbox.id}/cpu.max`);
    if (v2 !== undefined) {
      assert.equal(v2, '50000 100000');
      assert.equal(
        await read(`/sys/fs/cgroup/mags/${sandbox.id}/memory.max`),
        String(300 * 1024 * 1024),
      );
      assert.equal(await read(`/sys/fs/cgroup/mags/${sandbox.id}/pids.max`), '77');
    } else {
      assert.equal(await read(`/sys/fs/cgroup/cpu/mags/${sandbox.id}/cpu.cfs_quota_us`), '50000');
      assert.equal(
        await read(`/sys/fs/cgroup/memory/mags/${sandbox.id}/memory.limit_in_bytes`),
        String(300 * 1024 * 1024),
      );
      assert.equal(await read(`/sys/fs/cgroup/pids/mags/${sandbox.id}/pids.max`), '77');
    }
    const inside = await run(
      sandbox,
      'ls /sys/fs/cgroup 2>&1 | head -1; echo 1 > /proc/sys/kernel/pid_max 2>&1 | head -1',
    );
    assert.doesNotMatch(inside.stdout.toString(), /memory|cpu/);
  });

  test('cannot write outside the overlay: the image and other workspaces are untouched', async () => {
    const otherUpper = join(home.home, 'other', 'upper');
    await mkdir(otherUpper, { recursive: true });
    await chown(otherUpper, defaultUidBase, defaultUidBase);
    const sandbox = await start();
    const result = await run(
      sandbox,
      `echo pwned > /etc/passwd; rm -rf /usr/bin/git; echo x > /root/x; ls ${otherUpper} 2>&1 | head -1; ls /proc/1/root/ >/dev/null && echo proc-root`,
    );
    assert.match(result.stdout.toString(), /No such file or directory/);
    assert.ok(existsSync(join(imageRootfs, 'usr', 'bin', 'git')), 'the image lost /usr/bin/git');
    assert.doesNotMatch(await readFile(join(imageRootfs, 'etc', 'passwd'), 'utf8'), /pwned/);
    await rm(join(home.home, 'other'), { recursive: true });
  });

  /** A loopback service that answers `secret`, and the shell line that tries to read it. */
  async function withLoopbackService(use: (attempt: (host: string) => string) => Promise<void>) {
    const server = createServer((socket) => socket.end('secret\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      await use(
        (host) =>
          `timeout 5 bash -c 'exec 3<>/dev/tcp/${host}/${port} && cat <&3' 2>/dev/null || echo refused`,
      );
    } finally {
      server.close();
    }
  }

  test('cannot reach a service on the host loopback without --net', async () => {
    await withLoopbackService(async (attempt) => {
      const offline = await start();
      const noNet = await run(offline, attempt('127.0.0.1'));
      assert.equal(noNet.stdout.toString(), 'refused\n');
    });
  });

  test('with --net: egress only, no host loopback, no metadata address, no CAP_NET_ADMIN', {
    skip: existsSync('/usr/bin/slirp4netns')
      ? false
      : '/usr/bin/slirp4netns is not installed: --net cannot start here',
  }, async () => {
    await withLoopbackService(async (attempt) => {
      const online = await start({ network: { egress: 'all' } });
      for (const host of ['127.0.0.1', '10.0.2.2']) {
        const viaNet = await run(online, attempt(host));
        assert.equal(viaNet.stdout.toString(), 'refused\n', `host loopback reachable via ${host}`);
      }
      const interfaces = await run(
        online,
        'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\\n" " "',
      );
      assert.equal(interfaces.stdout.toString().trim(), 'lo tap0');
      // The cloud metadata address is rejected, and the sandbox cannot take the route away.
      const metadata = await run(
        online,
        "timeout 5 bash -c 'exec 3<>/dev/tcp/169.254.169.254/80' 2>&1 | tail -1; grep -c 0000FEA9 /proc/net/route",
      );
      assert.match(metadata.stdout.toString(), /No route to host\n1\n$/);
      const status = await run(online, 'grep CapEff /proc/self/status');
      const effective = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(status.stdout.toString())?.[1]}`);
      assert.equal(effective & (1n << 12n), 0n, 'CAP_NET_ADMIN must be dropped');
    });
  });
});
