import { constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { release } from 'node:os';
import type { RuntimeCheck } from '../runtime.ts';
import { type AcceleratorChoice, forcedAccelerator, readCachedAccelerator } from './accelerator.ts';
import { findOnPath } from './debian-kernel-package.ts';
import { readBuiltKernel } from './guest-kernel.ts';

export interface QemuHostCheck extends RuntimeCheck {
  qemuPath: string | undefined;
  /** The built guest kernel's release, when there is one. */
  kernelRelease: string | undefined;
  /** The cached (or forced) accelerator; undefined when it will be probed on first use. */
  accelerator: AcceleratorChoice | undefined;
  /** One line a person reads about the accelerator, cached or not. */
  acceleratorSummary: string;
}

/** The QEMU the runtime runs: `MAGS_QEMU_PATH`, else `qemu-system-x86_64` on the PATH. */
export function qemuPathFor(environment: NodeJS.ProcessEnv): string | undefined {
  return environment.MAGS_QEMU_PATH || findOnPath('qemu-system-x86_64', environment.PATH);
}

/**
 * What the qemu runtime needs on this host, without starting anything or writing a file (`mags
 * doctor` and the runtime's `check()`): QEMU, the built guest kernel, the guest's init and agent
 * binaries, and the accelerator choice if one was probed (a probe can take 15 s: never here).
 */
export async function checkQemuHost(options: {
  home: string;
  environment: NodeJS.ProcessEnv;
  initPath: string;
  agentPath: string;
  /** The QEMU the runtime runs; default: `qemuPathFor(environment)`. */
  qemuPath?: string;
  kvmPath?: string;
}): Promise<QemuHostCheck> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const qemuPath = options.qemuPath ?? qemuPathFor(options.environment);
  if (!qemuPath) {
    problems.push('qemu-system-x86_64 is not installed: apt-get install qemu-system-x86');
  } else if (!(await isExecutable(qemuPath))) {
    problems.push(
      `${qemuPath} (the QEMU to run${options.environment.MAGS_QEMU_PATH ? ', from MAGS_QEMU_PATH' : ''}) is not an executable file`,
    );
  }
  const kernel = await readBuiltKernel(options.home);
  if (!kernel) {
    problems.push(
      "The qemu runtime's guest kernel is not built: run npx mags image build --runtime qemu",
    );
  }
  for (const [what, path] of [
    ['guest init', options.initPath],
    ['guest agent', options.agentPath],
  ] as const) {
    if (!existsSync(path)) problems.push(`The ${what} ${path} is not built: run npm run build`);
  }
  let accelerator: AcceleratorChoice | undefined;
  let acceleratorSummary: string;
  try {
    const kvmPath = options.kvmPath ?? '/dev/kvm';
    accelerator =
      forcedAccelerator(options.environment) ??
      (await readCachedAccelerator(options.home, {
        hostKernelRelease: release(),
        ...(kernel ? { guestKernelRelease: kernel.release } : {}),
        kvmExists: await access(kvmPath, constants.F_OK).then(
          () => true,
          () => false,
        ),
      }));
    acceleratorSummary = accelerator
      ? `${accelerator.accelerator}: ${accelerator.reason}`
      : 'not probed yet: the first qemu sandbox (or mags image build --runtime qemu) probes KVM once and caches the answer';
  } catch (error) {
    problems.push((error as Error).message);
    acceleratorSummary = 'MAGS_QEMU_ACCEL is invalid';
  }
  return {
    ok: problems.length === 0,
    problems,
    warnings,
    qemuPath,
    kernelRelease: kernel?.release,
    accelerator,
    acceleratorSummary,
  };
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}
