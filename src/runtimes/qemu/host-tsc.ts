import { readFile } from 'node:fs/promises';

/**
 * The host's TSC rate in kHz, for a TCG guest's `tsc_early_khz=`. Under TCG the guest's RDTSC
 * reads the host's TSC (QEMU's cpu_get_host_ticks), but a Debian kernel calibrates it against the
 * emulated PIT, which fails on a busy host ("tsc: Unable to calibrate against PIT") and the guest
 * then hangs waiting for a timer tick: measured here in 1 boot of 3 under load, 0 of 9 with the
 * rate given. Undefined when it cannot be told (the guest calibrates).
 */
export async function hostTscKhz(cpuinfoPath = '/proc/cpuinfo'): Promise<number | undefined> {
  return tscKhzFromCpuinfo(await readFile(cpuinfoPath, 'utf8').catch(() => ''));
}

/**
 * /proc/cpuinfo's "cpu MHz" is the TSC rate only on a VM host (its flags say `hypervisor`: the
 * hypervisor reports the TSC frequency it gives the vCPU). On hardware with frequency scaling it
 * is the core's current frequency (arch/x86/kernel/cpu/proc.c, show_cpuinfo), so there it
 * is not used.
 */
export function tscKhzFromCpuinfo(text: string): number | undefined {
  const flags = /^flags\s*:(.*)$/m.exec(text)?.[1]?.split(/\s+/) ?? [];
  if (!flags.includes('hypervisor')) return undefined;
  const megahertz = /^cpu MHz\s*:\s*([\d.]+)$/m.exec(text)?.[1];
  const kilohertz = megahertz === undefined ? Number.NaN : Math.round(Number(megahertz) * 1000);
  return Number.isFinite(kilohertz) && kilohertz > 0 ? kilohertz : undefined;
}
