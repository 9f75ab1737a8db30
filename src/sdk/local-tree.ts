/**
 * The host's side of a tree copy (`mags cp`, `files.uploadTree`/`downloadTree`): a local file or
 * directory packed as a tar stream, and a downloaded tar stream extracted into a local directory,
 * both with node-tar and streamed (never the whole tree in memory). Node-only: the SDK imports
 * this module lazily, so the web dashboard never loads it.
 */
import { chmod, lstat, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as tar from 'tar';
import { formatBytes } from '../config/byte-sizes.ts';
import { InvalidInputError, MagsError } from '../errors/mags-error.ts';

/** How far a copy has got: entries (files, directories, links) and bytes of the tar stream. */
export interface TreeProgress {
  files: number;
  bytes: number;
}

/**
 * `source` (a file, a directory tree or a symlink) as a tar stream whose one top-level entry is
 * named `entryName`. Portable headers (no uids, user names or device numbers: the receiving end
 * decides who owns the files); modes kept (as `portable` writes them: owner read-write always,
 * group and others never writable); symlinks archived as links, never followed.
 */
export async function packLocalTree(
  source: string,
  entryName: string,
  onProgress?: (progress: TreeProgress) => void,
): Promise<{ stream: AsyncIterable<Uint8Array>; progress: TreeProgress }> {
  // Absolute: `.` or `src/` have a name to put in the archive only once resolved.
  const path = resolve(source);
  const stats = await lstat(path).catch(() => undefined);
  if (!stats) {
    throw new InvalidInputError(`Cannot copy ${source}: no such file or directory.`, {
      hint: 'Give a path on this machine to a file or directory.',
    });
  }
  const name = basename(path);
  const progress: TreeProgress = { files: 0, bytes: 0 };
  const pack = tar.c(
    {
      cwd: dirname(path),
      // Files are read 16 at a time (the default 4 leaves small files waiting on each other).
      jobs: 16,
      portable: true,
      follow: false,
      // node-tar reads a file up to 16 MiB at a time by default: 1 MiB keeps a copy small.
      maxReadSize: 1024 * 1024,
      onWriteEntry(entry) {
        // `portable` drops directories' mtimes (they would land dated 1970); theirs are kept.
        entry.noMtime = false;
        // The top-level entry carries the copy's name: `name/x` becomes `entryName/x`.
        if (entry.path === name || entry.path.startsWith(`${name}/`)) {
          entry.path = entryName + entry.path.slice(name.length);
        }
        progress.files++;
      },
    },
    [name],
  );
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of pack as AsyncIterable<Buffer>) {
      progress.bytes += chunk.length;
      onProgress?.(progress);
      yield chunk;
    }
  }
  return { stream: counted(), progress };
}

export interface ExtractLocalTreeOptions {
  onProgress?: (progress: TreeProgress) => void;
  /** A tar stream over this many bytes is stopped there (`too_large`), leaving nothing. */
  maxBytes?: number;
}

function downloadTooLarge(maxBytes: number): MagsError {
  return new MagsError(
    `The copy was stopped at ${formatBytes(maxBytes)} of tar, its limit; nothing was written.`,
    {
      code: 'too_large',
      hint: 'Copy a smaller path, or raise the limit (mags cp --max-size 50g NAME:/path DEST; maxBytes in the SDK).',
    },
  );
}

/**
 * Extracts a downloaded tar stream (one top-level entry) so that entry becomes `target`: into a
 * staging directory beside `target` first, then moved into place (renamed; an existing directory
 * is merged into, entry by entry), so a refused or failed download leaves nothing at `target`.
 *
 * node-tar's defaults are the safety here, and are kept: absolute paths are made relative,
 * entries with `..` are refused, and nothing is written through a symlink (one in the archive or
 * one already on disk). Any refused entry fails the whole copy, with the entries named. Files
 * belong to the user running this, not to the uids in the archive.
 */
export async function extractLocalTree(
  stream: AsyncIterable<Uint8Array>,
  target: string,
  options: ExtractLocalTreeOptions = {},
): Promise<TreeProgress> {
  const { onProgress, maxBytes = Number.POSITIVE_INFINITY } = options;
  const staging = await mkdtemp(join(dirname(target), '.mags-download-')).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT' && error.code !== 'ENOTDIR') throw error;
      throw new InvalidInputError(
        `Cannot copy to ${target}: ${dirname(target)} is not a directory here.`,
        { hint: 'Make the directory first (mkdir -p), or give a path in an existing one.' },
      );
    },
  );
  const progress: TreeProgress = { files: 0, bytes: 0 };
  const refused: Refusal[] = [];
  try {
    // node-tar's synchronous extractor, fed chunk by chunk: about 2.5x faster than its async one
    // on 10,000 small files here (2.0 s against 5-7 s), blocking the event loop for at most a
    // few tens of ms at a time (one chunk's entries); the same checks either way.
    const unpack = new tar.UnpackSync({
      cwd: staging,
      preserveOwner: false,
      onwarn: (code, message, data) => {
        // A leading "/" stripped is harmless; a device or FIFO (no place on this side) is skipped.
        if (code === 'TAR_ENTRY_INFO' || code === 'TAR_ENTRY_UNSUPPORTED') return;
        const { entry, code: cause } = data as { entry?: { path?: string }; code?: string };
        refused.push({
          // A file-system error (ENOSPC, EACCES) has its errno as the code, node-tar's own not.
          kind: cause !== undefined && cause !== code ? 'unwritable' : refusalKind(code),
          text: `${entry?.path ?? '?'}: ${String(message)}`,
        });
      },
      onReadEntry: (entry) => {
        // node-tar keeps setuid, setgid and sticky bits (7.5: `entry.mode & 0o7777`): run as
        // root, a download would plant a setuid-root binary here. Only permission bits land.
        if (typeof entry.mode === 'number') entry.mode &= 0o777;
        progress.files++;
      },
    });
    let failure: unknown;
    unpack.on('error', (error: Error & { tarCode?: string }) => {
      // node-tar's own fatal errors (TAR_BAD_ARCHIVE: not tar at all) are the archive's fault.
      failure ??= error.tarCode
        ? refusedArchive([{ kind: 'damaged', text: error.message }], target)
        : error;
    });
    for await (const chunk of stream) {
      progress.bytes += chunk.length;
      // The tar stream's bytes bound what lands here, data and entries (each has a 512-byte
      // header): a sandbox sending without end fills neither the disk nor its inodes.
      if (progress.bytes > maxBytes) throw downloadTooLarge(maxBytes);
      onProgress?.(progress);
      unpack.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      if (failure !== undefined) throw failure;
    }
    unpack.end();
    if (failure !== undefined) throw failure;
    if (refused.length > 0) throw refusedArchive(refused, target);
    const entries = await readdir(staging);
    const [top] = entries;
    if (entries.length !== 1 || top === undefined) {
      throw new MagsError(`The archive held ${entries.length} top-level entries, not one.`, {
        code: 'archive_refused',
        hint: 'An archive from GET .../archive has exactly one (the path copied).',
      });
    }
    await moveInto(join(staging, top), target);
    return progress;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Why node-tar refused an entry: what the error message says, and the hint. */
interface Refusal {
  kind: 'unsafe' | 'unwritable' | 'damaged';
  text: string;
}

/** TAR_ENTRY_ERROR is a path refused (`..`, outside, through a symlink, too deep). */
function refusalKind(code: string): Refusal['kind'] {
  return code === 'TAR_ENTRY_ERROR' ? 'unsafe' : 'damaged';
}

const refusalWords: Record<Refusal['kind'], string> = {
  unsafe: 'would have been written outside the copy or through a symlink',
  unwritable: 'could not be written here',
  damaged: 'unreadable (not tar, or damaged)',
};

function refusedArchive(refused: Refusal[], target: string): MagsError {
  const kinds = [...new Set(refused.map((refusal) => refusal.kind))];
  const counted = kinds.map((kind) => {
    const count = refused.filter((refusal) => refusal.kind === kind).length;
    return `${count} ${count === 1 ? 'entry' : 'entries'} ${refusalWords[kind]}`;
  });
  const shown = refused.slice(0, 5).map((refusal) => refusal.text);
  return new MagsError(
    `The archive was refused, nothing was written to ${target}: ${counted.join(', ')} (${shown.join('; ')}).`,
    {
      code: 'archive_refused',
      hint: kinds.includes('unsafe')
        ? 'The tree in the sandbox holds such entries: copy a path below them.'
        : kinds.includes('unwritable')
          ? 'Free space here, or copy to a place you can write.'
          : 'Copy again; a tar in the sandbox other than GNU tar may write what node-tar cannot read.',
    },
  );
}

/**
 * Renames `source` to `target`; a directory onto an existing directory is merged into it. Every
 * place where a file would replace a directory (or the other way round) is found first, so a
 * refused merge moves nothing.
 */
async function moveInto(source: string, target: string): Promise<void> {
  await checkMerge(source, target);
  await merge(source, target);
}

async function checkMerge(source: string, target: string): Promise<void> {
  const [sourceStats, targetStats] = await Promise.all([
    lstat(source),
    lstat(target).catch(() => undefined),
  ]);
  if (!targetStats) return;
  if (targetStats.isDirectory() && sourceStats.isDirectory()) {
    for (const name of await readdir(source))
      await checkMerge(join(source, name), join(target, name));
    return;
  }
  if (targetStats.isDirectory()) {
    throw new InvalidInputError(`Cannot replace the directory ${target} with a file.`, {
      hint: 'Copy into the directory instead: end the destination with "/".',
    });
  }
  if (sourceStats.isDirectory()) {
    throw new InvalidInputError(`Cannot replace the file ${target} with a directory.`, {
      hint: 'Copy to another path, or remove the file first.',
    });
  }
}

async function merge(source: string, target: string): Promise<void> {
  const [sourceStats, targetStats] = await Promise.all([
    lstat(source),
    lstat(target).catch(() => undefined),
  ]);
  if (targetStats?.isDirectory() && sourceStats.isDirectory()) {
    for (const name of await readdir(source)) await merge(join(source, name), join(target, name));
    await chmod(target, sourceStats.mode & 0o777);
    return;
  }
  // rename(2) replaces a file or a symlink in one step (and never follows the symlink).
  await rename(source, target);
}
