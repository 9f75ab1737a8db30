import { readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Run directories record the process that made them (`owner`: pid and start time, so a reused
 * pid is not mistaken for it). Everything of a sandbox whose owner is gone can go. Its processes
 * normally died with their owner (parent-death signal, or EOF on the agent's stream), but not a
 * frozen (sleeping) one: a frozen task cannot act on EOF and, under the cgroup v1 freezer, not
 * even on SIGKILL. Those are thawed and killed here.
 */
export async function writeRunOwner(runDirectory: string): Promise<void> {
  ownStartTime ??= startTime(process.pid);
  await writeFile(join(runDirectory, 'owner'), `${process.pid} ${await ownStartTime}\n`);
}

let ownStartTime: Promise<string> | undefined;

/** A run directory without an owner file is left alone this long (it may be being set up). */
const unownedGraceMs = 60_000;

export async function sweepLeftovers(home: string, cgroupRoot: string): Promise<number> {
  const runRoot = join(home, 'run');
  const ids = await readdir(runRoot).catch(() => [] as string[]);
  let removed = 0;
  for (const id of ids) {
    const runDirectory = join(runRoot, id);
    if (!(await ownerIsGone(runDirectory))) continue;
    const cgroups = cgroupDirectories(cgroupRoot, id);
    await killOrphans(cgroups);
    await Promise.all(cgroups.map((directory) => rmdir(directory).catch(() => {})));
    await rm(runDirectory, { recursive: true, force: true });
    removed++;
  }
  await removeEmptyCgroups(cgroupRoot);
  return removed;
}

/**
 * Cgroups whose run directory is gone with its whole MAGS_HOME (a test's, say) are found only
 * here: an empty one older than the grace period is dead (a live sandbox always has its
 * launcher in it), and rmdir refuses one that has processes anyway.
 */
async function removeEmptyCgroups(root: string): Promise<void> {
  const parents = [join(root, 'mags'), ...controllers.map((name) => join(root, name, 'mags'))];
  for (const parent of parents) {
    for (const id of await readdir(parent).catch(() => [] as string[])) {
      const directory = join(parent, id);
      const stats = await stat(directory).catch(() => undefined);
      if (!stats?.isDirectory() || Date.now() - stats.mtimeMs < unownedGraceMs) continue;
      const procs = await readFile(join(directory, 'cgroup.procs'), 'utf8').catch(() => 'x');
      if (procs.trim() === '') await rmdir(directory).catch(() => {});
    }
  }
}

async function ownerIsGone(runDirectory: string): Promise<boolean> {
  const text = await readFile(join(runDirectory, 'owner'), 'utf8').catch(() => undefined);
  if (text === undefined) {
    const stats = await stat(runDirectory).catch(() => undefined);
    return stats !== undefined && Date.now() - stats.mtimeMs > unownedGraceMs;
  }
  const [pid, started] = text.trim().split(' ');
  return (await startTime(Number(pid))) !== started;
}

/** The process's start time in clock ticks since boot (/proc/PID/stat field 22), or ''. */
async function startTime(pid: number): Promise<string> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

const controllers = ['memory', 'cpu', 'pids', 'freezer'];

function cgroupDirectories(root: string, id: string): string[] {
  return [
    join(root, 'mags', id),
    ...controllers.map((controller) => join(root, controller, 'mags', id)),
  ];
}

async function killOrphans(directories: string[]): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const pids: number[] = [];
    for (const directory of directories) {
      const procs = await readFile(join(directory, 'cgroup.procs'), 'utf8').catch(() => '');
      pids.push(...procs.split('\n').filter(Boolean).map(Number));
    }
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    for (const directory of directories) {
      await writeFile(join(directory, 'freezer.state'), 'THAWED').catch(() => {});
      await writeFile(join(directory, 'cgroup.freeze'), '0').catch(() => {});
    }
    await sleep(20);
  }
}
