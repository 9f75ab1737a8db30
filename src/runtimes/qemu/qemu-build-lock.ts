import { readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

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
    const owner = Number(await readFile(path, 'utf8').catch(() => '0'));
    // This process's own pid is alive too: a second build in the same process waits as well.
    if (!(owner > 0 && isAlive(owner))) {
      await rm(path, { force: true });
      continue;
    }
    if (!waited) onWait();
    waited = true;
    await sleep(options.pollMs ?? 500);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
