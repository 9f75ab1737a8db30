import { createReadStream } from 'node:fs';
import { Header, Pax } from 'tar';
import { ConflictError } from '../../errors/mags-error.ts';

/** One member of a tar stream, with everything its header says decided by the caller. */
export interface TarEntry {
  /** Relative, `/`-separated, no leading `/` or `./`; a directory's ends in `/`. */
  path: string;
  type: 'directory' | 'file' | 'symlink' | 'hardlink';
  mode: number;
  uid: number;
  gid: number;
  /** A symlink's target, or for a hard link the path of the member it links to. */
  linkpath?: string;
  /** A file's bytes: read from this path when the entry is written (never held in memory)... */
  sourcePath?: string;
  /** ...or these bytes, for small generated files (the image's JSON documents). */
  content?: Buffer;
  /** A file's size in bytes; must match what `sourcePath` holds when it is read. */
  size?: number;
}

const blockBytes = 512;
const headerTypes = {
  directory: 'Directory',
  file: 'File',
  symlink: 'SymbolicLink',
  hardlink: 'Link',
} as const;

/**
 * The bytes of a POSIX tar (ustar, with a PAX extended header where a name or number does not
 * fit) of `entries` in the order given, every mtime `mtime`, no user or group names (a layer is
 * read by id; names would tie it to this host's /etc/passwd). A consumer pulls it chunk by chunk:
 * a file is read in the stream's own chunks, so a large one is never held whole.
 */
export async function* tarBlocks(
  entries: AsyncIterable<TarEntry> | Iterable<TarEntry>,
  mtime: Date,
): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    const size = entry.type === 'file' ? (entry.content?.length ?? entry.size ?? 0) : 0;
    const fields = {
      path: entry.path,
      mode: entry.mode & 0o7777,
      uid: entry.uid,
      gid: entry.gid,
      size,
      mtime,
      type: headerTypes[entry.type],
      linkpath: entry.linkpath ?? '',
      uname: '',
      gname: '',
    };
    const header = new Header(fields);
    header.encode();
    if (header.needPax) {
      const { path, linkpath, uid, gid } = entry;
      yield new Pax({ path, linkpath, size, uid, gid, mtime }).encode();
    }
    yield header.block as Buffer;
    if (entry.type !== 'file') continue;
    if (entry.content) {
      yield entry.content;
    } else if (entry.sourcePath !== undefined && size > 0) {
      let read = 0;
      for await (const chunk of createReadStream(entry.sourcePath, { end: size - 1 })) {
        read += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      // The header already promised `size` bytes: a file that shrank meanwhile would shift every
      // member after it, so the archive is refused rather than written wrong.
      if (read !== size) {
        throw new ConflictError(
          `${entry.sourcePath} changed size while it was archived (${read} of ${size} bytes).`,
          { hint: 'Nothing may write to the image while it is archived: run the build again.' },
        );
      }
    }
    const padding = (blockBytes - (size % blockBytes)) % blockBytes;
    if (padding > 0) yield Buffer.alloc(padding);
  }
  // The end of an archive: two zero blocks (POSIX pax, "ustar Interchange Format").
  yield Buffer.alloc(blockBytes * 2);
}
