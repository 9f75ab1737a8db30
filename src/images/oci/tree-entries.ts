import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '../../errors/mags-error.ts';
import type { TarEntry } from './tar-blocks.ts';

export interface TreeEntriesOptions {
  /** The id a file's stored owner (uid or gid) has inside the image. */
  toImageId: (hostId: number) => number;
  /** Put before every path (and hard link target): `opt/mags/` places the tree there. */
  prefix?: string;
  /** Entries (relative to `root`, a directory's without the trailing `/`) left out with all below. */
  exclude?: (relativePath: string) => boolean;
  /** Called for what a layer cannot carry portably (sockets, fifos, devices): left out. */
  onSkipped?: (path: string, kind: string) => void;
}

/**
 * Every entry under `root` as a tar member, depth first, each directory's names in byte order, so
 * the same tree always gives the same sequence. A file with several links is stored once; its
 * other names become hard links to the first one met. Nothing is read ahead: one directory's
 * listing at a time per level of depth.
 */
export async function* treeEntries(
  root: string,
  options: TreeEntriesOptions,
): AsyncGenerator<TarEntry> {
  const firstPathOfInode = new Map<string, string>();
  async function* walk(directory: string, prefix: string): AsyncGenerator<TarEntry> {
    const names = (await readdir(directory, { encoding: 'buffer' }))
      .map((raw) => utf8Name(raw, directory))
      .sort(compareBytes);
    for (const name of names) {
      const path = join(directory, name);
      const relative = `${prefix}${name}`;
      if (options.exclude?.(relative.slice(outerPrefix.length))) continue;
      const stats = await lstat(path);
      const owner = { uid: options.toImageId(stats.uid), gid: options.toImageId(stats.gid) };
      if (stats.isDirectory()) {
        yield { path: `${relative}/`, type: 'directory', mode: stats.mode, ...owner };
        yield* walk(path, `${relative}/`);
      } else if (stats.isSymbolicLink()) {
        yield {
          path: relative,
          type: 'symlink',
          mode: stats.mode,
          ...owner,
          linkpath: await readlink(path),
        };
      } else if (stats.isFile()) {
        const inode = `${stats.dev}:${stats.ino}`;
        const first = stats.nlink > 1 ? firstPathOfInode.get(inode) : undefined;
        if (first !== undefined) {
          yield { path: relative, type: 'hardlink', mode: stats.mode, ...owner, linkpath: first };
          continue;
        }
        if (stats.nlink > 1) firstPathOfInode.set(inode, relative);
        yield {
          path: relative,
          type: 'file',
          mode: stats.mode,
          ...owner,
          size: stats.size,
          sourcePath: path,
        };
      } else {
        options.onSkipped?.(
          relative,
          stats.isFIFO() ? 'fifo' : stats.isSocket() ? 'socket' : 'device',
        );
      }
    }
  }
  const outerPrefix = options.prefix ?? '';
  yield* walk(root, outerPrefix);
}

/**
 * A directory entry's name, which must be UTF-8: a layer's tar names are read as UTF-8 (PAX), and
 * node's string for another name is lossy (U+FFFD), naming no file.
 */
function utf8Name(raw: Buffer, directory: string): string {
  const name = raw.toString('utf8');
  if (Buffer.from(name).equals(raw)) return name;
  throw new InvalidInputError(
    `The image has a file name that is not UTF-8 in ${directory}: ${JSON.stringify(raw.toString('latin1'))} (bytes ${raw.toString('hex')}).`,
    { hint: 'Rename or remove that file in the image, then build the OCI archive again.' },
  );
}

/** Byte order of UTF-8 names (not the locale's): what makes the archive reproducible anywhere. */
function compareBytes(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left), Buffer.from(right));
}
