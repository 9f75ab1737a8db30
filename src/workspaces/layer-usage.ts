import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { allocatedBytes, diskFiles, diskUsage } from './workspace-disk.ts';

/**
 * Bytes a workspace's layer uses, for listings: never mounts anything (a listing must not race a
 * disk being grown, nor mount every disk on the host). A mounted disk reports what its filesystem
 * uses (statfs, as `df`); an unmounted one the blocks its image holds on the host (an upper
 * bound: `allocatedBytes`); a workspace without a disk the apparent size of its files.
 */
export async function layerUsage(directory: string, hasDisk: boolean): Promise<number> {
  if (!hasDisk) return directorySize(join(directory, 'upper'));
  const { mountPoint, imagePath } = diskFiles(directory);
  if (await isMountPoint(mountPoint, directory)) return (await diskUsage(mountPoint)).usedBytes;
  return allocatedBytes(imagePath);
}

/** A mount point sits on another device than its parent (the disk, not the host's disk). */
export async function isMountPoint(path: string, parent: string): Promise<boolean> {
  const [inner, outer] = await Promise.all([stat(path).catch(() => undefined), stat(parent)]);
  return inner !== undefined && inner.dev !== outer.dev;
}

/** Bytes used by a layer (apparent sizes; hard links counted once). */
async function directorySize(root: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  // Buffer paths: names in a layer are bytes and need not be UTF-8 (a decoded name may not exist).
  const pending = [Buffer.from(root)];
  const slash = Buffer.from('/');
  while (pending.length > 0) {
    const directory = pending.pop() as Buffer;
    const entries = await readdir(directory, { withFileTypes: true, encoding: 'buffer' }).catch(
      () => [],
    );
    for (const entry of entries) {
      const path = Buffer.concat([directory, slash, entry.name]);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) {
        const stats = await lstat(path);
        const key = `${stats.dev}:${stats.ino}`;
        if (stats.nlink > 1 && seen.has(key)) continue;
        seen.add(key);
        total += stats.size;
      }
    }
  }
  return total;
}
