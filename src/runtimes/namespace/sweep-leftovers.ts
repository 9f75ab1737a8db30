import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeEmptySandboxCgroups, removeLeftoverCgroup } from './sandbox-cgroup.ts';

/**
 * Run directories record the process that made them (`owner`: pid and start time, so a reused
 * pid is not mistaken for it). Everything of a sandbox whose owner is gone can go. Its processes
 * normally died with their owner (parent-death signal, or EOF on the agent's stream), but not a
 * frozen (sleeping) one: a frozen task cannot act on EOF and, under the cgroup v1 freezer, not
 * even on SIGKILL. `removeLeftoverCgroup` ends those.
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
    await removeLeftoverCgroup(id, cgroupRoot);
    await rm(runDirectory, { recursive: true, force: true });
    removed++;
  }
  // Cgroups whose run directory went with its whole MAGS_HOME are found only this way.
  await removeEmptySandboxCgroups(unownedGraceMs, cgroupRoot);
  return removed;
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
