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
  /** Memory charged to the cgroup now (pages of its processes and the files they touched). */
  memoryBytes(): Promise<number | undefined>;
  /** Processes in the cgroup now, if the pids controller counts them. */
  processCount(): Promise<number | undefined>;
  /** (Re)applies limits; returns the ones that could not be applied, in words. */
  applyLimits(limits: CgroupLimits): Promise<string[]>;
  /** Stops every process in place (the freezer); false when this host has no freezer. */
  freeze(): Promise<boolean>;
  thaw(): Promise<void>;
  /** Asks the kernel to reclaim what it can of a (frozen) cgroup's memory. */
  reclaim(): Promise<void>;
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
  const cgroup = existsSync(join(root, 'cgroup.controllers'))
    ? await createV2(id, root)
    : existsSync(join(root, 'memory', 'cgroup.procs'))
      ? await createV1(id, root)
      : undefined;
  if (cgroup) return { cgroup, warnings: await cgroup.applyLimits(limits) };
  return {
    cgroup: undefined,
    warnings: [
      `no cgroup hierarchy found at ${root}: memory, CPU and process limits are NOT applied (mount cgroup2 at ${root})`,
    ],
  };
}

async function createV1(id: string, root: string): Promise<SandboxCgroup> {
  const missing: string[] = [];
  const directories = new Map<string, string>();
  for (const controller of ['memory', 'cpu', 'pids', 'freezer']) {
    const base = join(root, controller);
    if (!existsSync(join(base, 'cgroup.procs'))) {
      if (controller !== 'freezer') missing.push(`cgroup v1 ${controller} controller missing`);
      continue;
    }
    const directory = join(base, parentName, id);
    await mkdir(directory, { recursive: true });
    directories.set(controller, directory);
  }
  const memory = directories.get('memory');
  const cpu = directories.get('cpu');
  const pids = directories.get('pids');
  const freezer = directories.get('freezer');
  const all = [...directories.values()];
  return {
    version: 1,
    joinPaths: all,
    async applyLimits(limits) {
      const warnings = [...missing];
      const memoryBytes = String(limits.memoryMiB * 1024 * 1024);
      if (memory) {
        // memsw must stay >= the memory limit, so the order of the two writes depends on the
        // direction of the change; writing memsw last (and retrying first) covers both.
        await writeOptional(join(memory, 'memory.memsw.limit_in_bytes'), memoryBytes);
        await writeFile(join(memory, 'memory.limit_in_bytes'), memoryBytes);
        // Without a memsw limit the sandbox could push its pages to swap instead of being OOM-killed.
        await writeOptional(join(memory, 'memory.memsw.limit_in_bytes'), memoryBytes);
      } else warnings.push('memory limit not applied');
      if (cpu) {
        await writeFile(join(cpu, 'cpu.cfs_period_us'), String(cpuPeriodUs));
        await writeFile(
          join(cpu, 'cpu.cfs_quota_us'),
          String(Math.round(limits.cpus * cpuPeriodUs)),
        );
      } else warnings.push('CPU limit not applied');
      if (pids) await writeFile(join(pids, 'pids.max'), String(limits.pidsMax));
      else warnings.push('process-count limit not applied');
      return warnings;
    },
    async oomKillCount() {
      if (!memory) return 0;
      return readKeyedNumber(join(memory, 'memory.oom_control'), 'oom_kill');
    },
    async peakMemoryBytes() {
      if (!memory) return undefined;
      return readNumber(join(memory, 'memory.max_usage_in_bytes'));
    },
    memoryBytes: async () =>
      memory ? readNumber(join(memory, 'memory.usage_in_bytes')) : undefined,
    processCount: async () => (pids ? readNumber(join(pids, 'pids.current')) : undefined),
    async freeze() {
      if (!freezer) return false;
      await writeFile(join(freezer, 'freezer.state'), 'FROZEN');
      // v1 freezing is asynchronous: FREEZING until every task has stopped.
      for (let attempt = 0; attempt < 200; attempt++) {
        if ((await readFile(join(freezer, 'freezer.state'), 'utf8')).trim() === 'FROZEN') break;
        await sleep(5);
      }
      return true;
    },
    async thaw() {
      if (memory) await writeOptional(join(memory, 'memory.soft_limit_in_bytes'), '-1');
      if (freezer) await writeFile(join(freezer, 'freezer.state'), 'THAWED');
    },
    async reclaim() {
      // v1 has no memory.reclaim: a soft limit of 0 makes this cgroup the first place the kernel
      // takes pages from under memory pressure; thawing restores the default.
      if (memory) await writeOptional(join(memory, 'memory.soft_limit_in_bytes'), '0');
    },
    async killAll() {
      // Freezing first stops a fork bomb from outrunning the kill loop (cgroup v1 has no cgroup.kill).
      if (freezer) await writeOptional(join(freezer, 'freezer.state'), 'FROZEN');
      for (const directory of all) await killProcs(directory);
      if (freezer) await writeOptional(join(freezer, 'freezer.state'), 'THAWED');
    },
    async remove() {
      await Promise.all(all.map((directory) => removeDirectory(directory)));
    },
  };
}

async function createV2(id: string, root: string): Promise<SandboxCgroup> {
  const missing: string[] = [];
  const parent = join(root, parentName);
  await mkdir(parent, { recursive: true });
  const available = (await readFile(join(root, 'cgroup.controllers'), 'utf8')).split(/\s+/);
  const wanted = ['memory', 'cpu', 'pids'].filter((name) => available.includes(name));
  for (const name of ['memory', 'cpu', 'pids']) {
    if (!wanted.includes(name)) missing.push(`cgroup v2 ${name} controller not available`);
  }
  // Controllers must be enabled in every ancestor's subtree_control for the leaf to get them.
  const enable = wanted.map((name) => `+${name}`).join(' ');
  if (enable) {
    await writeOptional(join(root, 'cgroup.subtree_control'), enable);
    await writeOptional(join(parent, 'cgroup.subtree_control'), enable);
  }
  const directory = join(parent, id);
  await mkdir(directory, { recursive: true });
  const file = (name: string) => join(directory, name);
  return {
    version: 2,
    joinPaths: [directory],
    async applyLimits(limits) {
      const warnings = [...missing];
      if (!(await writeOptional(file('memory.max'), String(limits.memoryMiB * 1024 * 1024)))) {
        warnings.push('memory limit not applied');
      }
      await writeOptional(file('memory.swap.max'), '0');
      const quota = Math.round(limits.cpus * cpuPeriodUs);
      if (!(await writeOptional(file('cpu.max'), `${quota} ${cpuPeriodUs}`))) {
        warnings.push('CPU limit not applied');
      }
      if (!(await writeOptional(file('pids.max'), String(limits.pidsMax)))) {
        warnings.push('process-count limit not applied');
      }
      return warnings;
    },
    oomKillCount: () => readKeyedNumber(file('memory.events'), 'oom_kill'),
    peakMemoryBytes: () => readNumber(file('memory.peak')),
    memoryBytes: () => readNumber(file('memory.current')),
    processCount: () => readNumber(file('pids.current')),
    async freeze() {
      if (!(await writeOptional(file('cgroup.freeze'), '1'))) return false;
      for (let attempt = 0; attempt < 200; attempt++) {
        if ((await readKeyedNumber(file('cgroup.events'), 'frozen')) === 1) break;
        await sleep(5);
      }
      return true;
    },
    async thaw() {
      await writeOptional(file('cgroup.freeze'), '0');
    },
    async reclaim() {
      const current = await readNumber(file('memory.current'));
      // The kernel reclaims what it can and answers EAGAIN for the rest: that is fine here.
      if (current) await writeOptional(file('memory.reclaim'), String(current));
    },
    async killAll() {
      if (!(await writeOptional(file('cgroup.kill'), '1'))) await killProcs(directory);
    },
    remove: () => removeDirectory(directory),
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

async function readNumber(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  const value = Number(text);
  return text === undefined || !Number.isFinite(value) ? undefined : value;
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
