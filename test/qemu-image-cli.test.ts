/**
 * The qemu runtime's commands as a user runs them: `mags image build --runtime qemu` (the guest
 * kernel, then the accelerator) and the qemu section of `mags doctor`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { resolveMagsHome } from '../src/config/mags-home.ts';
import { nativeBinaryPath } from '../src/config/package-paths.ts';
import { readBuiltKernel } from '../src/runtimes/qemu/guest-kernel.ts';
import { createTestHome, runCli } from './helpers/test-home.ts';

const testHome = await createTestHome();
const root = await mkdtemp(join(tmpdir(), 'mags-test-qemu-cli-'));
after(async () => {
  await testHome.cleanup();
  await rm(root, { recursive: true, force: true });
});

test('image build --runtime names the runtimes it knows', async () => {
  const result = await runCli(testHome.home, ['image', 'build', '--runtime', 'nope']);
  // An invalid input, like any usage error (report-error.ts).
  assert.equal(result.code, 2);
  assert.match(result.stderr, /No image to build for runtime "nope"/);
  assert.match(result.stderr, /--runtime qemu/);
});

test('doctor on a home without a guest kernel says how to build it, and when KVM will be probed', async () => {
  const home = join(root, 'empty');
  await mkdir(join(home, 'images'), { recursive: true });
  const result = await runCli(home, ['doctor']);
  const stdout = result.stdout.toString();
  assert.match(stdout, /^qemu runtime/m);
  assert.match(
    stdout,
    /✗ The qemu runtime's guest kernel is not built: run npx mags image build --runtime qemu/,
  );
  assert.match(stdout, /accelerator: not probed yet/);
  const json = JSON.parse(
    (
      await runCli(home, ['doctor', '--json'], { env: { MAGS_QEMU_ACCEL: 'tcg' } })
    ).stdout.toString(),
  );
  assert.equal(json.qemu.kernelRelease, undefined);
  assert.equal(json.qemu.accelerator.accelerator, 'tcg');
  assert.match(json.qemu.acceleratorSummary, /^tcg: MAGS_QEMU_ACCEL=tcg forces it/);
});

function buildSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'building the guest kernel needs root';
  for (const name of ['mags-vm-init', 'mags-agent'] as const) {
    if (!existsSync(nativeBinaryPath(name)))
      return `${nativeBinaryPath(name)} is not built: run npm run build`;
  }
  if (!existsSync('/etc/debian_version')) return 'the guest kernel comes from apt: not Debian';
  return undefined;
}

test('image build --runtime qemu builds (or reuses) the guest kernel and reports the accelerator; doctor then shows both', {
  skip: buildSkipReason(),
  timeout: 10 * 60_000,
}, async () => {
  // Forced, so this test does not spend the probe's 15 s; accelerator.test.ts probes for real.
  const env = { MAGS_QEMU_ACCEL: 'tcg' };
  const result = await runCli(testHome.home, ['image', 'build', '--runtime', 'qemu', '--json'], {
    env,
  });
  assert.equal(result.code, 0, result.stderr);
  const built = JSON.parse(result.stdout.toString());
  assert.match(built.kernel.release, /^\d+\.\d+\.\d+-\d+-amd64$/);
  assert.ok(existsSync(built.kernel.vmlinuxPath));
  assert.ok(existsSync(built.kernel.initramfsPath));
  assert.equal(built.accelerator.accelerator, 'tcg');
  assert.match(result.stderr, /Guest kernel .* ready/);
  assert.match(result.stderr, /Accelerator: tcg \(MAGS_QEMU_ACCEL=tcg forces it/);
  // The test home shares the host's images directory: one kernel for every home.
  assert.equal((await readBuiltKernel(resolveMagsHome()))?.release, built.kernel.release);

  const doctor = await runCli(testHome.home, ['doctor'], { env });
  assert.match(doctor.stdout.toString(), new RegExp(`✓ guest kernel ${built.kernel.release}`));
  assert.match(doctor.stdout.toString(), /accelerator: tcg: MAGS_QEMU_ACCEL=tcg forces it/);
});
