import { randomUUID } from 'node:crypto';
import { link, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { processExists } from '../../config/process-exists.ts';

/**
 * One guest-kernel build at a time on a host: the lock file holds the builder's pid; a second
 * caller waits for it (calling `onWait` once), and a lock left by a dead process is taken over.
 */
export async function acquireBuildLock(
  path: string,
  onWait: () => void,
  options: { pollMs?: number } = {},
): Promise<() => Promise<void>> {
  let waited = false;
  for (;;) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(path);
    if (owner === undefined) continue;
    // This process's own pid is alive too: a second build in the same process waits as well.
    if (!(owner.pid > 0 && processExists(owner.pid))) {
      await takeOver(path, owner.inode);
      continue;
    }
    if (!waited) onWait();
    waited = true;
    await sleep(options.pollMs ?? 500);
  }
}

/** The lock's owner and the lock file's inode (which tells it from a later lock at the path). */
async function readOwner(path: string): Promise<{ pid: number; inode: number } | undefined> {
  try {
    const { ino } = await stat(path);
    return { pid: Number(await readFile(path, 'utf8')), inode: ino };
  } catch (error) {
    // Released (or taken over) meanwhile: try again.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Removes a dead owner's lock so the caller can create a fresh one. Every waiter may see the same
 * dead owner, and a plain `rm` would let a late one delete the lock an earlier one has just made
 * (both would build, and one's cleanup would delete the other's scratch directory). A rename to a
 * name of its own is atomic: one waiter gets the stale file and the others ENOENT. A waiter that
 * got a newer lock instead (made after its read) puts it back with `link`, which never replaces.
 */
async function takeOver(path: string, staleInode: number): Promise<void> {
  const claimed = `${path}.stale-${process.pid}-${randomUUID()}`;
  try {
    await rename(path, claimed);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    if ((await stat(claimed)).ino !== staleInode) await link(claimed, path).catch(() => {});
  } finally {
    await rm(claimed, { force: true });
  }
}
