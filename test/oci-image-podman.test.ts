/**
 * `mags image build --oci` as a user runs it, and the archive checked by the tools a user pushes
 * it with: skopeo reads it, podman loads it and runs a shell in it that finds the guest agent.
 * Skipped with the reason when podman (or a container runtime that works on this host) is missing.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageRoot } from '../src/config/package-paths.ts';
import { createTestHome, runCli, sandboxSkipReason } from './helpers/test-home.ts';

const testHome = await createTestHome();
const scratch = await mkdtemp(join(tmpdir(), 'mags-test-oci-podman-'));
const storage = { root: join(scratch, 'storage'), runroot: join(scratch, 'run') };
after(async () => {
  if (hasCommand('podman')) podman(['rmi', '--all', '--force']);
  for (const mount of mountsUnder(scratch)) execFileSync('umount', ['--lazy', mount]);
  await rm(scratch, { recursive: true, force: true });
  await testHome.cleanup();
});

test('an unknown base image is named, with the command that builds it', async () => {
  const result = await runCli(testHome.home, [
    'image',
    'build',
    '--oci',
    '--name',
    'nosuch',
    '--output',
    join(scratch, 'x.tar'),
  ]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /The base image "nosuch" is not built/);
  assert.match(
    result.stderr,
    /npx mags image build --name nosuch, then npx mags image build --oci --name nosuch/,
  );
  assert.equal(existsSync(join(scratch, 'x.tar')), false);
  const misplaced = await runCli(testHome.home, [
    'image',
    'build',
    '--output',
    join(scratch, 'x.tar'),
  ]);
  assert.equal(misplaced.code, 2);
  assert.match(
    misplaced.stderr,
    /--output, --tag and --server are about the OCI archive: they go with --oci/,
  );
  const both = await runCli(testHome.home, ['image', 'build', '--oci', '--runtime', 'qemu']);
  assert.equal(both.code, 2);
  assert.match(
    both.stderr,
    /--oci writes a base image \(--name\); --runtime builds a runtime's guest/,
  );
});

test('the archive of the default image loads into podman and runs a shell with the agent in it', {
  skip: podmanSkipReason(),
}, async () => {
  const archive = join(scratch, 'mags.tar');
  const built = await runCli(testHome.home, [
    'image',
    'build',
    '--oci',
    '--output',
    archive,
    '--tag',
    'mags-test-oci:probe',
    '--json',
  ]);
  assert.equal(built.code, 0, built.stderr);
  const written = JSON.parse(built.stdout.toString());
  assert.equal(written.layers.length, 2);
  assert.match(built.stderr, /Wrote .*mags\.tar/);
  if (hasCommand('skopeo')) {
    const inspected = JSON.parse(
      execFileSync('skopeo', ['inspect', `oci-archive:${archive}`], { encoding: 'utf8' }),
    );
    assert.equal(inspected.Digest, written.manifest.digest);
    assert.deepEqual(
      inspected.Layers,
      written.layers.map((layer: { digest: string }) => layer.digest),
    );
    assert.equal(inspected.Labels['org.opencontainers.image.base.name'], 'default');
  }
  const loaded = podman(['load', '--input', archive]);
  assert.equal(loaded.status, 0, loaded.stderr);
  assert.match(loaded.stdout, /Loaded image: localhost\/mags-test-oci:probe/);
  const ran = podman([
    'run',
    '--rm',
    '--network',
    'none',
    ...runFlags(),
    'mags-test-oci:probe',
    'sh',
    '-c',
    'echo hi; test -x /usr/local/lib/mags/mags-agent && echo agent; stat -c %u:%g /etc/shadow; pwd',
  ]);
  assert.equal(ran.status, 0, ran.stderr);
  // /etc/shadow is root:shadow (gid 42) in Debian: the store's shifted owners were put back.
  assert.equal(ran.stdout, 'hi\nagent\n0:42\n/workspace\n');
  assert.equal((await readFile(archive)).subarray(0, 10).toString(), 'oci-layout');
});

test('the server image runs mags server as uid 10001 and answers /health', {
  skip: podmanSkipReason(),
}, async () => {
  const archive = join(scratch, 'server.tar');
  const built = await runCli(testHome.home, [
    'image',
    'build',
    '--oci',
    '--server',
    '--output',
    archive,
    '--tag',
    'mags-test-oci:server',
  ]);
  assert.equal(built.code, 0, built.stderr);
  const loaded = podman(['load', '--input', archive]);
  assert.equal(loaded.status, 0, loaded.stderr);
  const version = podman([
    'run',
    '--rm',
    '--network',
    'none',
    ...runFlags(),
    'mags-test-oci:server',
    '--version',
  ]);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(
    version.stdout.trim(),
    JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')).version,
  );
  // The image's own command line (server --host=0.0.0.0 --port=7070), then /health from inside.
  const served = podman([
    'run',
    '--rm',
    '--network',
    'none',
    ...runFlags(),
    '--entrypoint',
    'sh',
    'mags-test-oci:server',
    '-c',
    `id -u; (mags server --host=0.0.0.0 --port=7070 --pool-size=0 >/tmp/server.log 2>&1 &)
     for attempt in $(seq 50); do
       node -e 'fetch("http://127.0.0.1:7070/health").then((r) => r.json()).then((b) => { console.log(b.status); process.exit(0) }, () => process.exit(1))' && exit 0
       sleep 0.2
     done
     cat /tmp/server.log; exit 1`,
  ]);
  assert.equal(served.status, 0, served.stderr + served.stdout);
  assert.equal(served.stdout, '10001\nok\n');
});

function podmanSkipReason(): string | false {
  const sandbox = sandboxSkipReason(); // root, the agent built, the default image built
  if (sandbox) return sandbox;
  if (!hasCommand('podman')) return 'podman is not installed (apt-get install podman)';
  if (!hasCommand('runc') && isCgroupV1())
    return "podman's default runtime crun cannot run containers on this cgroup v1 host; runc can (apt-get install runc)";
  return false;
}

/**
 * podman raises RLIMIT_NOFILE and RLIMIT_NPROC for root's containers; where root lacks
 * CAP_SYS_RESOURCE (this machine, itself a container) raising fails with EPERM, lowering never
 * does. crun refuses cgroup v1 hosts with an empty v2 tree ("cgroups in hybrid mode"); runc runs.
 */
function runFlags(): string[] {
  const limits = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
  return hasCommand('runc') ? ['--runtime', 'runc', ...limits] : limits;
}

function podman(args: string[]) {
  return spawnSync(
    'podman',
    ['--root', storage.root, '--runroot', storage.runroot, '--storage-driver', 'overlay', ...args],
    { encoding: 'utf8' },
  );
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

function isCgroupV1(): boolean {
  return !existsSync('/sys/fs/cgroup/cgroup.controllers');
}

function mountsUnder(directory: string): string[] {
  return execFileSync('cat', ['/proc/self/mounts'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${directory}/`))
    .sort((a, b) => b.length - a.length);
}
