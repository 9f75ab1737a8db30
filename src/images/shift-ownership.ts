import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Shifts every owner in a tree by `uidBase` (uid and gid), so that root inside a sandbox, which
 * maps to host uid `uidBase`, owns what host root owned. Symlinks are changed themselves, never
 * followed. chown(2) clears setuid/setgid bits, so they are put back afterwards.
 * Walks the tree level by level with bounded concurrency; returns the number of entries changed.
 */
export async function shiftOwnership(
  root: string,
  uidBase: number,
  concurrency = 32,
): Promise<number> {
  let changed = 0;
  let level = [root];
  while (level.length > 0) {
    const next: string[] = [];
    let index = 0;
    const worker = async () => {
      while (index < level.length) {
        const path = level[index++] as string;
        const stats = await lstat(path);
        if (stats.isDirectory())
          for (const name of await readdir(path)) next.push(join(path, name));
        if (stats.uid >= uidBase && stats.gid >= uidBase) continue; // already shifted: idempotent
        await lchown(path, stats.uid + uidBase, stats.gid + uidBase);
        if (!stats.isSymbolicLink() && stats.mode & 0o6000) await chmod(path, stats.mode & 0o7777);
        changed++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    level = next;
  }
  return changed;
}
