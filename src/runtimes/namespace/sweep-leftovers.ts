import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readProcessStartTicks } from '../../config/process-start-time.ts';
import { removeEmptySandboxCgroups, removeLeftoverCgroup } from './sandbox-cgroup.ts';

/**
 * Run directories record the process whose life is the sandbox's (`owner`: pid and start time,
 * so a reused pid is not mistaken for it): the server process while it sets the sandbox up, then
 * the sandbox's launcher, which outlives the server (a restarted server finds the sandbox again).
 * Everything of a sandbox whose owner is gone can go; a live one is never touched, whoever
 * started it. Its processes normally died with their launcher (parent-death signal), but not a
 * frozen (sleeping) one: a frozen task cannot act and, under the cgroup v1 freezer, not even on
 * SIGKILL. `removeLeftoverCgroup` ends those.
 */
export async function writeRunOwner(runDirectory: string, pid = process.pid): Promise<void> {
  if (pid === process.pid) ownStartTime ??= readProcessStartTicks(pid);
  const started = pid === process.pid && ownStartTime ? ownStartTime : readProcessStartTicks(pid);
  await writeFile(join(runDirectory, 'owner'), `${pid} ${await started}\n`);
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

export async function ownerIsGone(runDirectory: string): Promise<boolean> {
  const text = await readOwnerFile(runDirectory);
  if (text === undefined) {
    const stats = await stat(runDirectory).catch(() => undefined);
    return stats !== undefined && Date.now() - stats.mtimeMs > unownedGraceMs;
  }
  return (await liveOwner(text)) === undefined;
}

/** The process a run directory names as its owner (its launcher), while that process lives. */
export async function liveRunOwner(
  runDirectory: string,
): Promise<{ pid: number; started: string } | undefined> {
  const text = await readOwnerFile(runDirectory);
  return text === undefined ? undefined : liveOwner(text);
}

const readOwnerFile = (runDirectory: string) =>
  readFile(join(runDirectory, 'owner'), 'utf8').catch(() => undefined);

/** `PID START` names a live process when the process with that pid started at START. */
async function liveOwner(text: string): Promise<{ pid: number; started: string } | undefined> {
  const [pid = '', started = ''] = text.trim().split(' ');
  const alive = (await readProcessStartTicks(Number(pid))) === started;
  return alive ? { pid: Number(pid), started } : undefined;
}

/** Waits until process `pid` (started at `started`) is gone; false after `timeoutMs`. */
export async function waitForProcessExit(
  pid: number,
  started: string,
  timeoutMs: number,
): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if ((await readProcessStartTicks(pid)) !== started) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return (await readProcessStartTicks(pid)) !== started;
}
