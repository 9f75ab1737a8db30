import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
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
/** The v1 hierarchies a sandbox gets a directory in (v2 has one directory for all). */
const v1Controllers = ['memory', 'cpu', 'pids', 'freezer'];

/** Every directory the cgroup of sandbox `id` can have, v2 and v1 alike. */
function sandboxCgroupDirectories(id: string, root: string): string[] {
  return [
    join(root, parentName, id),
    ...v1Controllers.map((controller) => join(root, controller, parentName, id)),
  ];
}

/**
 * Ends whatever is left in the cgroup of a sandbox whose owner is gone, and removes it. A frozen
 * (sleeping) sandbox's processes act on SIGKILL only once thawed under the cgroup v1 freezer, so
 * each round kills, then thaws.
 */
export async function removeLeftoverCgroup(id: string, root = cgroupRoot): Promise<void> {
  const directories = sandboxCgroupDirectories(id, root);
  for (let attempt = 0; attempt < 100; attempt++) {
    const killed = await Promise.all(directories.map((directory) => killProcs(directory)));
    if (killed.every((count) => count === 0)) break;
    for (const directory of directories) {
      await writeOptional(join(directory, 'freezer.state'), 'THAWED');
      await writeOptional(join(directory, 'cgroup.freeze'), '0');
    }
    await sleep(20);
  }
  // Best effort: a sweep at start-up must not fail the start.
  await Promise.all(directories.map((directory) => removeDirectory(directory).catch(() => {})));
}

/**
 * Removes sandbox cgroups that are empty and older than `minAgeMs` (their MAGS_HOME went, a
 * test's, say). A live sandbox always has its launcher in its cgroup, and rmdir refuses a cgroup
 * with processes anyway; the age covers one being set up right now.
 */
export async function removeEmptySandboxCgroups(
  minAgeMs: number,
  root = cgroupRoot,
): Promise<void> {
  const parents = [
    join(root, parentName),
    ...v1Controllers.map((name) => join(root, name, parentName)),
  ];
  for (const parent of parents) {
    for (const id of await readdir(parent).catch(() => [] as string[])) {
      const directory = join(parent, id);
      const stats = await stat(directory).catch(() => undefined);
      if (!stats?.isDirectory() || Date.now() - stats.mtimeMs < minAgeMs) continue;
      const procs = await readFile(join(directory, 'cgroup.procs'), 'utf8').catch(() => 'x');
      if (procs.trim() === '') await rmdir(directory).catch(() => {});
    }
  }
}

/**
 * Creates the cgroup of a sandbox with its limits. A host without usable cgroups still runs
 * sandboxes, but every limit that cannot be applied is reported, never silently dropped.
 */
export async function createSandboxCgroup(
  id: string,
  limits: CgroupLimits,
  root = cgroupRoot,
): Promise<CgroupSetup> {
  const cgroup = await openSandboxCgroup(id, root);
  if (cgroup) return { cgroup, warnings: await cgroup.applyLimits(limits) };
  return {
    cgroup: undefined,
    warnings: [
      `no cgroup hierarchy found at ${root}: memory, CPU and process limits are NOT applied (mount cgroup2 at ${root})`,
    ],
  };
}

/**
 * The cgroup of a sandbox that is already running (started by another process: a server that
 * was restarted), as it is: limits untouched. Undefined on a host without cgroups.
 */
export async function openSandboxCgroup(
  id: string,
  root = cgroupRoot,
): Promise<SandboxCgroup | undefined> {
  if (existsSync(join(root, 'cgroup.controllers'))) return createV2(id, root);
  if (existsSync(join(root, 'memory', 'cgroup.procs'))) return createV1(id, root);
  return undefined;
}

/** Whether the sandbox's cgroup is frozen (it sleeps). */
export async function isSandboxFrozen(id: string, root = cgroupRoot): Promise<boolean> {
  const [v1, v2] = await Promise.all([
    readFile(join(root, 'freezer', parentName, id, 'freezer.state'), 'utf8').catch(() => ''),
    readFile(join(root, parentName, id, 'cgroup.freeze'), 'utf8').catch(() => ''),
  ]);
  return v1.trim() !== '' ? v1.trim() !== 'THAWED' : v2.trim() === '1';
}

async function createV1(id: string, root: string): Promise<SandboxCgroup> {
  const missing: string[] = [];
  const directories = new Map<string, string>();
  for (const controller of v1Controllers) {
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

/** SIGKILLs every process in the cgroup; returns how many there were. */
async function killProcs(directory: string): Promise<number> {
  const text = await readFile(join(directory, 'cgroup.procs'), 'utf8').catch(() => '');
  const pids = text.split('\n').filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return pids.length;
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
