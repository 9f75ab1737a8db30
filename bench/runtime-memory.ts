import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const cgroupRoot = '/sys/fs/cgroup';
const mib = 1024 * 1024;

/** What a running sandbox costs the host: its processes' resident memory and its cgroup charge. */
export interface SandboxMemory {
  /** Each process of the sandbox's cgroup, by its command name, with its VmRSS. */
  processes: Array<{ command: string; rssBytes: number }>;
  /** What the memory controller charges the sandbox's cgroup (pages and page cache). */
  chargedBytes: number | undefined;
}

/**
 * Reads the host's view of sandbox `id` from its cgroup (src/runtimes/namespace/sandbox-cgroup.ts
 * names it `mags/ID`, on v2 or under each v1 controller): the same for both runtimes, since a qemu
 * sandbox's cgroup holds the launcher and QEMU, a namespace sandbox's the launcher and the agent.
 */
export async function sandboxMemory(id: string): Promise<SandboxMemory> {
  const v2 = join(cgroupRoot, 'mags', id);
  const v1Memory = join(cgroupRoot, 'memory', 'mags', id);
  const procs =
    (await readOptional(join(v2, 'cgroup.procs'))) ??
    (await readOptional(join(v1Memory, 'cgroup.procs'))) ??
    (await readOptional(join(cgroupRoot, 'pids', 'mags', id, 'cgroup.procs'))) ??
    '';
  const pids = procs.split('\n').filter((line) => /^\d+$/.test(line));
  const processes = [];
  for (const pid of pids) {
    const status = await readOptional(`/proc/${pid}/status`);
    if (!status) continue;
    const command = /^Name:\s+(.+)$/m.exec(status)?.[1] ?? pid;
    // A kernel thread or a zombie has no VmRSS line.
    const rssKiB = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
    processes.push({ command, rssBytes: rssKiB * 1024 });
  }
  const charged =
    (await readOptional(join(v2, 'memory.current'))) ??
    (await readOptional(join(v1Memory, 'memory.usage_in_bytes')));
  return { processes, chargedBytes: charged === undefined ? undefined : Number(charged) };
}

export function totalRssBytes(memory: SandboxMemory): number {
  return memory.processes.reduce((sum, process) => sum + process.rssBytes, 0);
}

export function formatMiB(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : (bytes / mib).toFixed(1);
}

/** `mags-sandbox 1.1, qemu-system-x86 170.2`: each process's RSS in MiB. */
export function formatProcesses(memory: SandboxMemory): string {
  return memory.processes
    .map((process) => `${process.command} ${formatMiB(process.rssBytes)}`)
    .join(', ');
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}
