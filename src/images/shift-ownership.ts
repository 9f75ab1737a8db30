import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { IdMapping } from '../config/id-mapping.ts';

/**
 * Shifts every owner in a tree into the sandbox's ids (uid and gid, `idMapping.toHost`), so that
 * root inside a sandbox owns what host root owned. Symlinks are changed themselves, never
 * followed. chown(2) clears setuid/setgid bits, so they are put back afterwards.
 * Walks the tree level by level with bounded concurrency; returns the number of entries changed.
 */
export async function shiftOwnership(
  root: string,
  idMapping: IdMapping,
  concurrency = 32,
): Promise<number> {
  const uidBase = idMapping.toHost(0);
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
        await lchown(path, idMapping.toHost(stats.uid), idMapping.toHost(stats.gid));
        if (!stats.isSymbolicLink() && stats.mode & 0o6000) await chmod(path, stats.mode & 0o7777);
        changed++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    level = next;
  }
  return changed;
}
