import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CgroupLimits {
  memoryMiB: number;
  cpus: number;
  pidsMax: number;
}

/** The cgroup(s) of one sandbox: v1 has one directory per controller, v2 a single one. */
export interface SandboxCgroup {
  readonly version: 1 | 2;
  /** Directories whose `cgroup.procs` the launcher joins before it creates the sandbox. */
  readonly joinPaths: string[];
  /** How many processes the kernel's OOM killer has killed in this cgroup. */
  oomKillCount(): Promise<number>;
  /** Peak memory use in bytes, if the kernel reports it. */
  peakMemoryBytes(): Promise<number | undefined>;
  /** SIGKILL every process in the cgroup. */
  killAll(): Promise<void>;
  remove(): Promise<void>;
}

export interface CgroupSetup {
  cgroup: SandboxCgroup | undefined;
  /** Limits that could not be applied, in words a user understands. */
  warnings: string[];
}

const cgroupRoot = '/sys/fs/cgroup';
const parentName = 'mags';
const cpuPeriodUs = 100_000;

/**
 * Creates the cgroup of a sandbox with its limits. A host without usable cgroups still runs
 * sandboxes, but every limit that cannot be applied is reported, never silently dropped.
 */
export async function createSandboxCgroup(
  id: string,
  limits: CgroupLimits,
  root = cgroupRoot,
): Promise<CgroupSetup> {
  if (existsSync(join(root, 'cgroup.controllers'))) return createV2(id, limits, root);
  if (existsSync(join(root, 'memory', 'cgroup.procs'))) return createV1(id, limits, root);
  return {
    cgroup: undefined,
    warnings: [
      `no cgroup hierarchy found at ${root}: memory, CPU and process limits are NOT applied (mount cgroup2 at ${root})`,
    ],
  };
}

async function createV1(id: string, limits: CgroupLimits, root: string): Promise<CgroupSetup> {
  const warnings: string[] = [];
  const directories = new Map<string, string>();
  for (const controller of ['memory', 'cpu', 'pids', 'freezer']) {
    const base = join(root, controller);
    if (!existsSync(join(base, 'cgroup.procs'))) {
      if (controller !== 'freezer') warnings.push(`cgroup v1 ${controller} controller missing`);
      continue;
    }
    const directory = join(base, parentName, id);
    await mkdir(directory, { recursive: true });
    directories.set(controller, directory);
  }
  const memory = directories.get('memory');
  const cpu = directories.get('cpu');
  const pids = directories.get('pids');
  const memoryBytes = String(limits.memoryMiB * 1024 * 1024);
  if (memory) {
    await writeFile(join(memory, 'memory.limit_in_bytes'), memoryBytes);
    // Without a memsw limit the sandbox could push its pages to swap instead of being OOM-killed.
    await writeOptional(join(memory, 'memory.memsw.limit_in_bytes'), memoryBytes);
  } else warnings.push('memory limit not applied');
  if (cpu) {
    await writeFile(join(cpu, 'cpu.cfs_period_us'), String(cpuPeriodUs));
    await writeFile(join(cpu, 'cpu.cfs_quota_us'), String(Math.round(limits.cpus * cpuPeriodUs)));
  } else warnings.push('CPU limit not applied');
  if (pids) await writeFile(join(pids, 'pids.max'), String(limits.pidsMax));
  else warnings.push('process-count limit not applied');

  const all = [...directories.values()];
  return {
    warnings,
    cgroup: {
      version: 1,
      joinPaths: all,
      async oomKillCount() {
        if (!memory) return 0;
        return readKeyedNumber(join(memory, 'memory.oom_control'), 'oom_kill');
      },
      async peakMemoryBytes() {
        if (!memory) return undefined;
        return Number(await readFile(join(memory, 'memory.max_usage_in_bytes'), 'utf8'));
      },
      async killAll() {
        const freezer = directories.get('freezer');
        // Freezing first stops a fork bomb from outrunning the kill loop (cgroup v1 has no cgroup.kill).
        if (freezer) await writeOptional(join(freezer, 'freezer.state'), 'FROZEN');
        for (const directory of all) await killProcs(directory);
        if (freezer) await writeOptional(join(freezer, 'freezer.state'), 'THAWED');
      },
      async remove() {
        await Promise.all(all.map((directory) => removeDirectory(directory)));
      },
    },
  };
}

async function createV2(id: string, limits: CgroupLimits, root: string): Promise<CgroupSetup> {
  const warnings: string[] = [];
  const parent = join(root, parentName);
  await mkdir(parent, { recursive: true });
  const available = (await readFile(join(root, 'cgroup.controllers'), 'utf8')).split(/\s+/);
  const wanted = ['memory', 'cpu', 'pids'].filter((name) => available.includes(name));
  for (const name of ['memory', 'cpu', 'pids']) {
    if (!wanted.includes(name)) warnings.push(`cgroup v2 ${name} controller not available`);
  }
  // Controllers must be enabled in every ancestor's subtree_control for the leaf to get them.
  const enable = wanted.map((name) => `+${name}`).join(' ');
  if (enable) {
    await writeOptional(join(root, 'cgroup.subtree_control'), enable);
    await writeOptional(join(parent, 'cgroup.subtree_control'), enable);
  }
  const directory = join(parent, id);
  await mkdir(directory, { recursive: true });
  const memoryBytes = String(limits.memoryMiB * 1024 * 1024);
  if (!(await writeOptional(join(directory, 'memory.max'), memoryBytes))) {
    warnings.push('memory limit not applied');
  }
  await writeOptional(join(directory, 'memory.swap.max'), '0');
  const quota = Math.round(limits.cpus * cpuPeriodUs);
  if (!(await writeOptional(join(directory, 'cpu.max'), `${quota} ${cpuPeriodUs}`))) {
    warnings.push('CPU limit not applied');
  }
  if (!(await writeOptional(join(directory, 'pids.max'), String(limits.pidsMax)))) {
    warnings.push('process-count limit not applied');
  }
  return {
    warnings,
    cgroup: {
      version: 2,
      joinPaths: [directory],
      oomKillCount: () => readKeyedNumber(join(directory, 'memory.events'), 'oom_kill'),
      async peakMemoryBytes() {
        const text = await readFile(join(directory, 'memory.peak'), 'utf8').catch(() => undefined);
        return text === undefined ? undefined : Number(text);
      },
      async killAll() {
        if (!(await writeOptional(join(directory, 'cgroup.kill'), '1'))) await killProcs(directory);
      },
      remove: () => removeDirectory(directory),
    },
  };
}

async function writeOptional(path: string, value: string): Promise<boolean> {
  try {
    await writeFile(path, value);
    return true;
  } catch {
    return false;
  }
}

async function readKeyedNumber(path: string, key: string): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const line = text.split('\n').find((entry) => entry.startsWith(`${key} `));
  return line ? Number(line.slice(key.length + 1)) : 0;
}

async function killProcs(directory: string): Promise<void> {
  const text = await readFile(join(directory, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const pid of text.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** rmdir fails with EBUSY while the kernel is still tearing down the last processes. */
async function removeDirectory(directory: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await rmdir(directory);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw error;
      if (attempt === 10) await killProcs(directory);
      await sleep(10);
    }
  }
}
