import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { imageDefaultFiles } from '../image-defaults.ts';
import type { TarEntry } from './tar-blocks.ts';

/**
 * The members of the layer mags adds above a base image: the guest agent at `agentImagePath`
 * (root's, 0755) and each of mags' image defaults (image-defaults.ts) the base image lacks, as a
 * sandbox sees them through its overlay. Their parent directories come first, with the owner and
 * mode the base image gives them (a layer's directory entry replaces the one below it).
 */
export async function magsLayerEntries(options: {
  rootfs: string;
  agentSourcePath: string;
  agentSizeBytes: number;
  /** Absolute, inside the image. */
  agentImagePath: string;
  toImageId: (hostId: number) => number;
}): Promise<TarEntry[]> {
  const files: TarEntry[] = [
    {
      path: options.agentImagePath.replace(/^\//, ''),
      type: 'file',
      mode: 0o755,
      uid: 0,
      gid: 0,
      size: options.agentSizeBytes,
      sourcePath: options.agentSourcePath,
    },
  ];
  for (const [relative, content] of Object.entries(imageDefaultFiles)) {
    if (await lstat(join(options.rootfs, relative)).catch(() => undefined)) continue;
    files.push({
      path: relative,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      content: Buffer.from(content),
    });
  }
  const directories = new Map<string, TarEntry>();
  for (const file of files) {
    const parts = file.path.split('/').slice(0, -1);
    for (let depth = 1; depth <= parts.length; depth++) {
      const path = `${parts.slice(0, depth).join('/')}/`;
      if (directories.has(path)) continue;
      const stats = await lstat(join(options.rootfs, path)).catch(() => undefined);
      directories.set(path, {
        path,
        type: 'directory',
        mode: stats?.isDirectory() ? stats.mode : 0o755,
        uid: stats?.isDirectory() ? options.toImageId(stats.uid) : 0,
        gid: stats?.isDirectory() ? options.toImageId(stats.gid) : 0,
      });
    }
  }
  // A directory's path ends in "/", which sorts it before its own members.
  return [...directories.values(), ...files].sort((left, right) =>
    Buffer.compare(Buffer.from(left.path), Buffer.from(right.path)),
  );
}
