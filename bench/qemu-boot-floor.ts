import { spawn } from 'node:child_process';
import type { GuestKernel } from '../src/runtimes/qemu/guest-kernel.ts';
import { hostTscKhz } from '../src/runtimes/qemu/host-tsc.ts';
import { microvmArguments } from '../src/runtimes/qemu/qemu-command-line.ts';
import { measure, type Summary } from './stats.ts';

/**
 * The floor of a qemu sandbox's cold start: QEMU's microvm booting the same kernel and initramfs
 * on the same accelerator, no launcher, no jail, no 9p, no agent. `mags.probe=1` makes
 * mags-vm-init print a line and power off before it loads a module (native/vm-init.c), so what
 * is timed is spawn → kernel boot → init → QEMU's exit.
 */
export async function measureQemuBootFloor(options: {
  qemuPath: string;
  kernel: GuestKernel;
  accelerator: 'kvm' | 'tcg';
  memoryMiB: number;
  iterations: number;
}): Promise<Summary> {
  const { qemuPath, kernel, accelerator, memoryMiB, iterations } = options;
  // The same machine as a sandbox's (qemu-command-line.ts), TSC rate included: without it a busy
  // host's TCG guest can hang calibrating its TSC.
  const tscKhz = accelerator === 'tcg' ? await hostTscKhz() : undefined;
  const argv = microvmArguments({
    accelerator,
    memoryMiB,
    cpus: 1,
    vmlinuxPath: kernel.vmlinuxPath,
    initramfsPath: kernel.initramfsPath,
    kernelArguments: ['mags.probe=1'],
    ...(tscKhz ? { tscKhz } : {}),
  });
  return measure(
    `qemu microvm boot → init → power off (${accelerator}, no launcher)`,
    iterations,
    () => bootOnce(qemuPath, argv),
    1,
  );
}

async function bootOnce(qemuPath: string, argv: string[]): Promise<void> {
  const child = spawn(qemuPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  // A KVM that cannot run this kernel hangs it (GUIDE §4): a minute is far beyond a TCG boot.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (code !== 0 || !output.includes('mags-vm-init: probe ok')) {
    throw new Error(`qemu probe boot failed (exit ${code}): ${output.slice(-2000)}`);
  }
}
