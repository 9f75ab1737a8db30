import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { uniqueSuffix } from '../../config/unique-suffix.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { bootProbe } from './boot-probe.ts';
import { findOnPath } from './debian-kernel-package.ts';
import { type GuestKernel, qemuDirectory } from './guest-kernel.ts';

export interface AcceleratorChoice {
  accelerator: 'kvm' | 'tcg';
  reason: string;
  /** ISO 8601: when the probe ran (or now, for a forced or obvious choice). */
  probedAt: string;
}

/** What a cached choice depends on: a change of any of these probes again. */
export interface AcceleratorCacheKey {
  hostKernelRelease: string;
  guestKernelRelease: string;
  kvmExists: boolean;
}

const defaultKvmPath = '/dev/kvm';
const defaultProbeTimeoutMs = 15_000;

/**
 * KVM or TCG for the qemu runtime's VMs. `MAGS_QEMU_ACCEL` forces one; otherwise KVM only when
 * /dev/kvm opens read-write and the guest kernel boots under it within the probe's timeout (a
 * nested paravirtualized KVM, PVM, exists but hangs with Debian kernels: GUIDE §4). The choice is
 * cached in `images/.qemu/accelerator.json` for this host kernel, guest kernel and /dev/kvm.
 */
export async function chooseAccelerator(options: {
  home: string;
  kernel: GuestKernel;
  environment: NodeJS.ProcessEnv;
  qemuPath?: string;
  probeTimeoutMs?: number;
  /** Tests point it elsewhere; /dev/kvm otherwise. */
  kvmPath?: string;
  /** Probe again even when a choice for this key is cached (`mags image build --force`). */
  force?: boolean;
}): Promise<AcceleratorChoice> {
  const forced = forcedAccelerator(options.environment);
  if (forced) return forced;
  const kvmPath = options.kvmPath ?? defaultKvmPath;
  const key: AcceleratorCacheKey = {
    hostKernelRelease: release(),
    guestKernelRelease: options.kernel.release,
    kvmExists: await exists(kvmPath),
  };
  const cached = options.force ? undefined : await readCachedAccelerator(options.home, key);
  if (cached) return cached;
  const choice = await probeAccelerator({ ...options, kvmPath, kvmExists: key.kvmExists });
  await writeCache(options.home, { key, ...choice });
  return choice;
}

/** The forced choice from `MAGS_QEMU_ACCEL`, or undefined when it is unset. */
export function forcedAccelerator(environment: NodeJS.ProcessEnv): AcceleratorChoice | undefined {
  const forced = environment.MAGS_QEMU_ACCEL;
  if (forced === undefined || forced === '') return undefined;
  if (forced !== 'kvm' && forced !== 'tcg') {
    throw new InvalidInputError(
      `MAGS_QEMU_ACCEL must be kvm or tcg, not ${JSON.stringify(forced)}.`,
      {
        hint: 'Unset it: KVM is then probed once and the answer cached.',
      },
    );
  }
  return {
    accelerator: forced,
    reason: `MAGS_QEMU_ACCEL=${forced} forces it; no probe`,
    probedAt: new Date().toISOString(),
  };
}

/**
 * The cached choice when it was made for this host kernel, this guest kernel release (or any,
 * when `key.guestKernelRelease` is undefined) and the same /dev/kvm; reading only.
 */
export async function readCachedAccelerator(
  home: string,
  key: Omit<AcceleratorCacheKey, 'guestKernelRelease'> & { guestKernelRelease?: string },
): Promise<AcceleratorChoice | undefined> {
  const text = await readFile(cachePath(home), 'utf8').catch(() => '');
  if (!text) return undefined;
  try {
    const cached = JSON.parse(text) as { key: AcceleratorCacheKey } & AcceleratorChoice;
    const matches =
      cached.key.hostKernelRelease === key.hostKernelRelease &&
      cached.key.kvmExists === key.kvmExists &&
      (key.guestKernelRelease === undefined ||
        cached.key.guestKernelRelease === key.guestKernelRelease);
    if (!matches || (cached.accelerator !== 'kvm' && cached.accelerator !== 'tcg'))
      return undefined;
    return { accelerator: cached.accelerator, reason: cached.reason, probedAt: cached.probedAt };
  } catch {
    return undefined;
  }
}

async function probeAccelerator(options: {
  kernel: GuestKernel;
  qemuPath?: string;
  probeTimeoutMs?: number;
  kvmPath: string;
  kvmExists: boolean;
}): Promise<AcceleratorChoice> {
  const probedAt = () => new Date().toISOString();
  const software =
    'using TCG (software emulation): VMs boot in seconds and run several times slower';
  if (!options.kvmExists) {
    return {
      accelerator: 'tcg',
      reason: `no ${options.kvmPath}; ${software}`,
      probedAt: probedAt(),
    };
  }
  try {
    (await open(options.kvmPath, 'r+')).close();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return {
      accelerator: 'tcg',
      reason: `${options.kvmPath} cannot be opened read-write (${code}); ${software}`,
      probedAt: probedAt(),
    };
  }
  const qemuPath = options.qemuPath ?? findOnPath('qemu-system-x86_64') ?? 'qemu-system-x86_64';
  const timeoutMs = options.probeTimeoutMs ?? defaultProbeTimeoutMs;
  const result = await bootProbe({
    qemuPath,
    accelerator: 'kvm',
    vmlinuxPath: options.kernel.vmlinuxPath,
    initramfsPath: options.kernel.initramfsPath,
    timeoutMs,
  });
  if (result.booted) {
    return {
      accelerator: 'kvm',
      reason: `KVM at ${options.kvmPath} booted the guest kernel in ${result.elapsedMs} ms`,
      probedAt: probedAt(),
    };
  }
  if (result.why === 'timeout') {
    return {
      accelerator: 'tcg',
      reason: `KVM at ${options.kvmPath} exists but could not boot the guest kernel ${options.kernel.release} within ${timeoutMs} ms (this is what nested paravirtualized KVM, PVM, does with Debian kernels); ${software}`,
      probedAt: probedAt(),
    };
  }
  const lastLine = result.output.trim().split('\n').at(-1) ?? '';
  return {
    accelerator: 'tcg',
    reason: `QEMU with KVM at ${options.kvmPath} stopped before the guest kernel booted${lastLine ? ` (${lastLine.trim()})` : ''}; ${software}`,
    probedAt: probedAt(),
  };
}

function cachePath(home: string): string {
  return join(qemuDirectory(home), 'accelerator.json');
}

async function writeCache(
  home: string,
  record: { key: AcceleratorCacheKey } & AcceleratorChoice,
): Promise<void> {
  await mkdir(qemuDirectory(home), { recursive: true });
  // Two probes at once both write; each write is whole (rename), the last one stays.
  const temporary = `${cachePath(home)}.${uniqueSuffix()}`;
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`);
  await rename(temporary, cachePath(home));
}

async function exists(path: string): Promise<boolean> {
  return access(path, constants.F_OK).then(
    () => true,
    () => false,
  );
}
