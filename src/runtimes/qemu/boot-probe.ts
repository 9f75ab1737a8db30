import { spawn } from 'node:child_process';
import { qemuSandboxArguments } from './qemu-command-line.ts';

/** The line native/vm-init.c prints on the serial console when booted with `mags.probe=1`. */
export const probeOkLine = 'mags-vm-init: probe ok';

export type BootProbeResult =
  | { booted: true; elapsedMs: number }
  | { booted: false; elapsedMs: number; why: 'timeout' | 'exited'; output: string };

/**
 * Boots the guest kernel and initramfs once under QEMU's microvm with nothing attached but the
 * serial console, and waits for the init's probe line. QEMU is killed at the deadline: a KVM that
 * cannot run this kernel (nested PVM) hangs in the guest, it does not fail.
 */
export function bootProbe(options: {
  qemuPath: string;
  accelerator: 'kvm' | 'tcg';
  vmlinuxPath: string;
  initramfsPath: string;
  timeoutMs: number;
}): Promise<BootProbeResult> {
  const startedAt = performance.now();
  const child = spawn(
    options.qemuPath,
    [
      ...['-M', 'microvm,rtc=on', '-accel', options.accelerator, '-m', '128', '-smp', '1'],
      ...['-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio'],
      ...['-kernel', options.vmlinuxPath, '-initrd', options.initramfsPath],
      ...['-append', 'console=ttyS0 quiet panic=-1 mags.probe=1', '-no-reboot'],
      // It runs as host root outside the launcher's jail: QEMU's own seccomp filter at least.
      ...qemuSandboxArguments,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const elapsed = () => Math.round(performance.now() - startedAt);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: BootProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The init powers the VM off after the line; nothing of the guest is needed any more.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ booted: false, elapsedMs: elapsed(), why: 'timeout', output }),
      options.timeoutMs,
    );
    const collect = (chunk: Buffer) => {
      // Keeps the tail only: a verbose kernel prints hundreds of lines.
      output = (output + chunk.toString('latin1')).slice(-4096);
      if (output.includes(probeOkLine)) finish({ booted: true, elapsedMs: elapsed() });
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) =>
      finish({ booted: false, elapsedMs: elapsed(), why: 'exited', output: error.message }),
    );
    child.on('close', () => finish({ booted: false, elapsedMs: elapsed(), why: 'exited', output }));
  });
}
