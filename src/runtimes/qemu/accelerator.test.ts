/**
 * The accelerator choice: forced, obvious (no usable /dev/kvm), cached by its key, and the real
 * KVM probe against the built guest kernel, which must end within its timeout whatever KVM does
 * (here, nested PVM hangs with Debian kernels: the expected answer is TCG).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { resolveMagsHome } from '../../config/mags-home.ts';
import { nativeBinaryPath } from '../../config/package-paths.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { chooseAccelerator } from './accelerator.ts';
import { findGuestKernel, qemuDirectory } from './guest-kernel.ts';

const root = await mkdtemp(join(tmpdir(), 'mags-test-accelerator-'));
after(() => rm(root, { recursive: true, force: true }));
const kernel = {
  release: '6.1.0-test-amd64',
  vmlinuxPath: '/nonexistent',
  initramfsPath: '/nonexistent',
};

test('MAGS_QEMU_ACCEL forces the accelerator without probing; a wrong value is refused', async () => {
  const home = join(root, 'forced');
  for (const accelerator of ['kvm', 'tcg'] as const) {
    const choice = await chooseAccelerator({
      home,
      kernel,
      environment: { MAGS_QEMU_ACCEL: accelerator },
    });
    assert.equal(choice.accelerator, accelerator);
    assert.match(choice.reason, new RegExp(`MAGS_QEMU_ACCEL=${accelerator} forces it`));
  }
  assert.equal(existsSync(join(qemuDirectory(home), 'accelerator.json')), false);
  await assert.rejects(
    chooseAccelerator({ home, kernel, environment: { MAGS_QEMU_ACCEL: 'hvf' } }),
    InvalidInputError,
  );
});

test('no /dev/kvm, or one that does not open read-write: TCG, cached per key, a changed key probes again', async () => {
  const home = join(root, 'cached');
  const missing = join(root, 'no-kvm');
  const first = await chooseAccelerator({ home, kernel, environment: {}, kvmPath: missing });
  assert.equal(first.accelerator, 'tcg');
  assert.match(first.reason, new RegExp(`no ${missing}; using TCG`));
  const cache = JSON.parse(await readFile(join(qemuDirectory(home), 'accelerator.json'), 'utf8'));
  assert.deepEqual(cache.key, {
    hostKernelRelease: release(),
    guestKernelRelease: kernel.release,
    kvmExists: false,
  });
  // A cached answer is returned as it is: an edited reason shows it was not probed again.
  cache.reason = 'from the cache';
  await writeFile(join(qemuDirectory(home), 'accelerator.json'), JSON.stringify(cache));
  assert.equal(
    (await chooseAccelerator({ home, kernel, environment: {}, kvmPath: missing })).reason,
    'from the cache',
  );
  // Another guest kernel: probed again.
  const otherKernel = { ...kernel, release: '6.1.0-other-amd64' };
  assert.match(
    (await chooseAccelerator({ home, kernel: otherKernel, environment: {}, kvmPath: missing }))
      .reason,
    /^no /,
  );
  // /dev/kvm appeared (here a directory, which cannot be opened read-write): probed again.
  const unusable = join(root, 'kvm-directory');
  await mkdir(unusable);
  const second = await chooseAccelerator({ home, kernel, environment: {}, kvmPath: unusable });
  assert.equal(second.accelerator, 'tcg');
  assert.match(second.reason, /cannot be opened read-write \(EISDIR\)/);
  // --force probes again whatever the cache says.
  cache.reason = 'from the cache';
  cache.key.kvmExists = false;
  await writeFile(join(qemuDirectory(home), 'accelerator.json'), JSON.stringify(cache));
  assert.match(
    (await chooseAccelerator({ home, kernel, environment: {}, kvmPath: missing, force: true }))
      .reason,
    /^no /,
  );
});

function probeSkipReason(): string | undefined {
  if (!existsSync('/dev/kvm')) return 'no /dev/kvm on this host (the probe is not needed: TCG)';
  if (spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status !== 0)
    return 'qemu-system-x86_64 is not installed';
  if (!existsSync(nativeBinaryPath('mags-vm-init')))
    return `${nativeBinaryPath('mags-vm-init')} is not built: run npm run build`;
  return undefined;
}

test('the KVM probe boots the real guest kernel and answers within its timeout, leaving no QEMU behind', {
  skip: probeSkipReason(),
  timeout: 60_000,
}, async (t) => {
  const guest = await findGuestKernel({
    home: resolveMagsHome(),
    initPath: nativeBinaryPath('mags-vm-init'),
    agentPath: nativeBinaryPath('mags-agent'),
  });
  if (!guest) return t.skip('the guest kernel is not built: npx mags image build --runtime qemu');
  const probeTimeoutMs = 10_000;
  const startedAt = performance.now();
  const choice = await chooseAccelerator({
    home: join(root, 'probe'),
    kernel: guest,
    environment: {},
    probeTimeoutMs,
  });
  const elapsedMs = performance.now() - startedAt;
  t.diagnostic(`${choice.accelerator} after ${Math.round(elapsedMs)} ms: ${choice.reason}`);
  assert.ok(elapsedMs < probeTimeoutMs + 5000, `the probe took ${Math.round(elapsedMs)} ms`);
  if (choice.accelerator === 'kvm')
    assert.match(choice.reason, /^KVM at \/dev\/kvm booted the guest kernel in \d+ ms$/);
  else
    assert.match(
      choice.reason,
      /KVM at \/dev\/kvm (exists but could not boot the guest kernel .* within 10000 ms|cannot be opened|with KVM)/,
    );
  const leftover = spawnSync('pgrep', ['-f', '--', `-initrd ${guest.initramfsPath}`])
    .stdout.toString()
    .trim();
  assert.equal(leftover, '', 'a probe QEMU is still running');
});
