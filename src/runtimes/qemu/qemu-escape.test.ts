/**
 * Attacks on a qemu sandbox from inside, and what the host sees of its VM: the guest must not
 * reach the host's files, processes, loopback or devices, its limits hold inside the guest, and
 * QEMU itself runs on the host as the sandbox's subordinate root, jailed. One VM serves the checks
 * that leave it usable (a boot costs seconds under TCG); the attacks that wreck it come last.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { minimalDevEntries } from '../../testing/minimal-dev.ts';
import type { Sandbox, SandboxSpec } from '../runtime.ts';
import { collect, shell } from '../runtime-contract.ts';
import { type QemuTestSetup, setupQemuRuntime } from './fixtures/qemu-runtime-on-home.ts';

const execFileAsync = promisify(execFile);

/** The host pids of the QEMU processes of a sandbox: its id is QEMU's `-name`. */
async function qemuPidsOf(id: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const name = argv.indexOf('-name');
    if (argv[0]?.includes('qemu-system') && name > 0 && argv[name + 1] === id)
      pids.push(Number(entry));
  }
  return pids;
}

/** A loopback service on the host that answers `secret`, and the guest's line that tries it. */
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

describe('qemu sandbox isolation (escape attempts)', () => {
  let setup: QemuTestSetup | undefined;
  let skipReason: string | undefined;
  let shared: Sandbox | undefined;
  const sandboxes: Sandbox[] = [];
  before(async () => {
    const result = await setupQemuRuntime();
    if ('skip' in result) {
      skipReason = result.skip;
      process.stdout.write(`# skipping the qemu escape tests: ${skipReason}\n`);
    } else setup = result;
  });
  after(async () => {
    await Promise.all(sandboxes.map((sandbox) => sandbox.stop()));
    await setup?.home.cleanup();
  });
  const it = (title: string, body: () => Promise<void>) =>
    test(title, async (t) => {
      if (skipReason || !setup) return t.skip(skipReason);
      await body();
    });
  async function start(overrides: Partial<SandboxSpec> = {}): Promise<Sandbox> {
    if (!setup) throw new Error('no runtime');
    const sandbox = await setup.runtime.start({
      id: `escape-${randomBytes(4).toString('hex')}`,
      image: { name: 'default' },
      limits: { memoryMiB: 256, cpus: 1, pidsMax: 64 },
      network: { egress: 'none' },
      ...overrides,
    });
    sandboxes.push(sandbox);
    return sandbox;
  }
  /** The VM most checks share: a writable workspace, 256 MiB, 64 processes, no network. */
  async function vm(): Promise<Sandbox> {
    shared ??= await start({ workspace: { name: 'escape', access: 'writable' } });
    return shared;
  }
  const run = async (sandbox: Sandbox, script: string) =>
    (await collect(sandbox.exec(shell(script)))).stdout.toString();

  it("host files are not visible: the host's /etc, markers under /tmp and /root; PID 1 is the agent", async () => {
    const tag = randomBytes(6).toString('hex');
    const markers = [`/tmp/mags-escape-${tag}`, `/root/.mags-escape-${tag}`];
    for (const marker of markers) await writeFile(marker, `secret-${tag}`);
    try {
      const sandbox = await vm();
      const output = await run(
        sandbox,
        [
          'cat /etc/hostname',
          ...markers.map((marker) => `test -e ${marker} && echo visible ${marker}`),
          `grep -rs secret-${tag} /tmp /root /workspace && echo found`,
          "tr '\\0' ' ' < /proc/1/cmdline; echo",
          'true',
        ].join('; '),
      );
      const [hostname, ...rest] = output.split('\n');
      // The image's own file; this host's says something else.
      const imageHostname = await readFile(
        join(setup?.home.home ?? '', 'images', 'default', 'rootfs', 'etc', 'hostname'),
        'utf8',
      );
      assert.equal(`${hostname}\n`, imageHostname);
      assert.doesNotMatch(rest.join('\n'), /visible|found/);
      assert.match(rest[0] ?? '', /^mags-agent --port \d+ $/);
    } finally {
      for (const marker of markers) await rm(marker, { force: true });
    }
  });

  it('host processes are not visible: a host sleep with a unique argv is not in the guest /proc', async () => {
    const seconds = `1000.${randomBytes(4).readUInt32BE()}`;
    const hostSleep = spawn('sleep', [seconds], { stdio: 'ignore' });
    try {
      const hostCmdline = await readFile(`/proc/${hostSleep.pid}/cmdline`, 'utf8');
      assert.ok(hostCmdline.includes(seconds), 'the host sleep is not running');
      const sandbox = await vm();
      // Its own sleep with another argv shows the search finds a process when there is one.
      const own = `2000.${randomBytes(4).readUInt32BE()}`;
      const output = await run(
        sandbox,
        `sleep ${own} & for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done; kill $!`,
      );
      assert.ok(output.includes(`sleep ${own}`), output);
      assert.ok(!output.includes(seconds), `the host's sleep ${seconds} is visible in the guest`);
    } finally {
      hostSleep.kill('SIGKILL');
    }
  });

  it('no network without --net: only lo, and the host loopback is refused', async () => {
    const sandbox = await vm();
    const interfaces = await run(sandbox, 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "');
    assert.equal(interfaces.trim(), 'lo');
    await withLoopbackService(async (attempt) => {
      for (const host of ['127.0.0.1', '10.0.2.2']) {
        assert.equal(await run(sandbox, attempt(host)), 'refused\n', host);
      }
    });
  });

  it('/dev is minimal: no disks, consoles, virtio ports, memory or kernel log', async () => {
    const sandbox = await vm();
    const listing = await run(sandbox, 'ls /dev | sort | tr "\\n" " "');
    for (const name of listing.trim().split(' ')) {
      assert.ok(minimalDevEntries.includes(name), `unexpected /dev entry ${name}`);
    }
    const devices = await run(
      sandbox,
      'for d in vda sda ttyS0 vport0p1 vport1p1 hvc0 console mem kmem port kmsg; do test -e /dev/$d && echo $d; done; true',
    );
    assert.equal(devices, '');
  });

  it('the 9p root ends at the workspace root: .. stays at /, planted symlinks resolve in the guest', async () => {
    const tag = randomBytes(6).toString('hex');
    const hostSecret = `/tmp/mags-escape-link-${tag}`;
    await writeFile(hostSecret, `secret-${tag}`);
    try {
      const sandbox = await vm();
      const output = await run(
        sandbox,
        [
          'cd /; cd ../../..; pwd',
          'test "$(stat -c %i /)" = "$(stat -c %i /../../..)" && echo same-inode',
          'cd /workspace',
          `ln -s ${hostSecret} secret-link; cat secret-link 2>&1 | grep -c secret-${tag}`,
          'ln -s ../../../../../../../etc/hostname up-link; cat up-link',
          'ln -s /etc/shadow shadow-link; sha256sum < shadow-link | cut -c1-64',
          'true',
        ].join('; '),
      );
      const imageRoot = join(setup?.home.home ?? '', 'images', 'default', 'rootfs');
      const imageShadow = await execFileAsync('sha256sum', [join(imageRoot, 'etc', 'shadow')]);
      assert.deepEqual(output.trim().split('\n'), [
        '/',
        'same-inode',
        '0',
        (await readFile(join(imageRoot, 'etc', 'hostname'), 'utf8')).trim(),
        imageShadow.stdout.slice(0, 64),
      ]);
    } finally {
      await rm(hostSecret, { force: true });
    }
  });

  it("a file the guest's root creates in the workspace is owned on the host by the subordinate root", async () => {
    if (!setup) return;
    const sandbox = await vm();
    assert.equal(await run(sandbox, 'echo mine > /workspace/owned && echo ok'), 'ok\n');
    const { upperDir: upper } = await setup.workspaces.open('escape');
    const owner = await stat(join(upper, 'workspace', 'owned'));
    assert.equal(owner.uid, setup.workspaces.idMapping.toHost(0));
    assert.notEqual(owner.uid, 0);
  });

  it('QEMU runs on the host as the subordinate root, with no_new_privs and a seccomp filter', async () => {
    const sandbox = await vm();
    const pids = await qemuPidsOf(sandbox.id);
    assert.equal(pids.length, 1, `QEMU processes of ${sandbox.id}: ${pids}`);
    const status = await readFile(`/proc/${pids[0]}/status`, 'utf8');
    const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/).map(Number) ?? [];
    assert.deepEqual(uids, [100_000, 100_000, 100_000, 100_000]);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    assert.match(status, /^Seccomp:\s+2$/m);
    // Capabilities of its own user namespace only, and without the ones that reach the kernel.
    const bounding = BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)$/m.exec(status)?.[1]}`);
    assert.equal(bounding & (1n << 21n), 0n, 'CAP_SYS_ADMIN must be dropped');
    assert.equal(bounding & (1n << 16n), 0n, 'CAP_SYS_MODULE must be dropped');
  });

  it("the guest's root cannot lift its limits: cgroupfs remounts and mounts, module loads fail with EPERM", async () => {
    const sandbox = await vm();
    // The syscalls themselves (x86_64 numbers), so the errno is the kernel's, not a tool's guess.
    // perl's syscall() may write into a string argument: each is a variable, not a literal.
    const script = [
      'sub try { my ($name, $result) = @_; printf "%s %s\\n", $name, $result == -1 ? $! + 0 : "ok" }',
      'my ($none, $cgroup, $type, $target, $module, $empty, $hostname) = ("none", "/sys/fs/cgroup",',
      '"cgroup2", "/tmp/escape-cgroup", "\\0" x 64, "", "/etc/hostname");',
      'mkdir $target;',
      'try("remount", syscall(165, $none, $cgroup, $type, 32, 0));',
      'try("cgroup2", syscall(165, $type, $target, $type, 0, 0));',
      'try("init_module", syscall(175, $module, 64, $empty));',
      'open(my $file, "<", $hostname) or die;',
      'try("finit_module", syscall(313, fileno($file), $empty, 0));',
    ].join(' ');
    const output = await run(
      sandbox,
      [
        `perl -e '${script}'`,
        'echo max > /sys/fs/cgroup/sandbox/pids.max 2>/dev/null && echo raised',
        'cat /sys/fs/cgroup/sandbox/pids.max',
        'grep -E "^(NoNewPrivs|Seccomp):" /proc/1/status',
        'true',
      ].join('; '),
    );
    const eperm = 1;
    assert.deepEqual(output.trim().split('\n'), [
      `remount ${eperm}`,
      `cgroup2 ${eperm}`,
      `init_module ${eperm}`,
      `finit_module ${eperm}`,
      '64',
      'NoNewPrivs:\t1',
      'Seccomp:\t2',
    ]);
    // The agent's bounding set: what every command it starts can have at most.
    const bounding = BigInt(
      `0x${(await run(sandbox, "sed -n 's/^CapBnd:\\t//p' /proc/1/status")).trim()}`,
    );
    assert.equal(bounding & (1n << 21n), 0n, 'CAP_SYS_ADMIN must be dropped in the guest');
    assert.equal(bounding & (1n << 16n), 0n, 'CAP_SYS_MODULE must be dropped in the guest');
  });

  it("the initramfs beneath the guest's root is out of reach: a chroot escape, a kernel thread's root", async () => {
    const sandbox = await vm();
    // CAP_SYS_CHROOT is kept (Docker's set): the classic escape (chroot into a subdirectory, climb
    // out with ..) ends at the moved root's mount, never in the initramfs beneath it, which
    // vm-init has emptied of its cgroup filesystem and devtmpfs anyway.
    const script = [
      'mkdir "/tmp/escape-chroot"; chroot "/tmp/escape-chroot" or die "chroot: $!";',
      'chdir ".." for 1 .. 20; chroot "." or die "chroot back: $!";',
      'print -e "/mags-agent" || -e "/modules" ? "initramfs\\n" : "own root\\n";',
    ].join(' ');
    const output = await run(
      sandbox,
      `perl -e '${script}' 2>&1; ls /proc/2/root/ >/dev/null 2>&1 || echo kthread root refused`,
    );
    assert.equal(output, 'own root\nkthread root refused\n');
  });

  it("a guest flooding its serial console fills at most 64 KiB of the host's launcher log", async () => {
    if (!setup) return;
    const sandbox = await vm();
    // The agent's stdout is the guest's console (/dev/console, the serial port QEMU writes to
    // the launcher); 1 MiB through it.
    const written = await run(
      sandbox,
      "head -c 1048576 /dev/zero | tr '\\0' x > /proc/1/fd/1 && echo written",
    );
    assert.equal(written, 'written\n');
    const log = join(setup.home.home, 'run', sandbox.id, 'launcher.log');
    // What the guest wrote arrives through QEMU and the launcher's pipe: wait until it stops growing.
    let size = -1;
    for (let tries = 0; tries < 50; tries++) {
      const now = (await stat(log)).size;
      if (now === size && now > 0) break;
      size = now;
      await sleep(200);
    }
    assert.ok(size >= 60 * 1024, `the log holds ${size} bytes: the flood did not reach it`);
    assert.ok(size <= 64 * 1024 + 4096, `the log holds ${size} bytes`);
  });

  it("a fork bomb is held by the guest's process limit; the host stays responsive, the sandbox answers", async () => {
    const sandbox = await vm();
    // Builtins only once the bomb holds the limit (a refused fork ends a shell), then every
    // process of the group killed at once, the bomb's too.
    const script =
      'bomb() { bomb | bomb & }; bomb; while ((SECONDS < 3)); do :; done; echo survived; kill -9 0';
    const bombing = collect(sandbox.exec(shell('', { argv: ['bash', '-c', script], cwd: '/' })));
    await sleep(1500);
    const hostStarted = performance.now();
    await execFileAsync('/bin/true');
    const hostMs = performance.now() - hostStarted;
    assert.ok(hostMs < 2000, `the host took ${Math.round(hostMs)} ms to run /bin/true`);
    assert.match((await bombing).stdout.toString(), /survived/);
    assert.equal(await run(sandbox, 'echo alive'), 'alive\n');
  });

  it("a memory hog past the VM's memory is OOM-killed inside the guest and reported; the agent answers", async () => {
    const sandbox = await vm();
    // 600 MB held by tail: more than the limit (256 MiB) and the whole VM (384 MiB).
    const hog = await run(
      sandbox,
      'head -c 800000000 /dev/zero | tail -c 600000000 > /dev/null; echo $?',
    );
    assert.equal(hog, '137\n');
    const usage = await sandbox.usage();
    assert.ok(usage.oomKills >= 1, JSON.stringify(usage));
    assert.equal(sandbox.isRunning(), true);
    assert.equal(await run(sandbox, 'echo alive'), 'alive\n');
  });

  it('stop() ends a command that ignores SIGTERM within a bound, and its QEMU is gone', async () => {
    const sandbox = await vm();
    const process = sandbox.exec(shell("trap '' TERM; sleep 1000"));
    process.exited.catch(() => {});
    assert.equal((await qemuPidsOf(sandbox.id)).length, 1);
    const stopping = performance.now();
    await sandbox.stop();
    const stopMs = performance.now() - stopping;
    assert.ok(stopMs < 15_000, `stop took ${Math.round(stopMs)} ms`);
    const settled = await Promise.race([
      process.exited.then(
        () => 'settled',
        () => 'settled',
      ),
      sleep(5000).then(() => 'still running'),
    ]);
    assert.equal(settled, 'settled');
    assert.deepEqual(await qemuPidsOf(sandbox.id), []);
  });

  it('with --net: the host loopback is refused at 10.0.2.2 and 127.0.0.1, the metadata range too', async () => {
    const sandbox = await start({ network: { egress: 'all' } });
    const interfaces = await run(
      sandbox,
      'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\\n" " "',
    );
    assert.equal(interfaces.trim(), 'eth0 lo');
    await withLoopbackService(async (attempt) => {
      for (const host of ['127.0.0.1', '10.0.2.2']) {
        assert.equal(await run(sandbox, attempt(host)), 'refused\n', `host loopback via ${host}`);
      }
    });
    const metadata = await run(
      sandbox,
      "timeout 5 bash -c 'exec 3<>/dev/tcp/169.254.169.254/80' 2>&1 | tail -1",
    );
    assert.match(metadata, /No route to host|Network is unreachable|Connection refused/);
  });
});
