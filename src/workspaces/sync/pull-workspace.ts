import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { zstdDecompress } from 'node:zlib';
import type { IdMapping } from '../../config/id-mapping.ts';
import { MagsError } from '../../errors/mags-error.ts';
import { ObjectNotFoundError, type ObjectStore } from '../../storage/object-store.ts';
import { LayerExtractor } from './layer-extractor.ts';
import { chunkBytes, chunkKey, type Manifest, type ManifestEntry, sha256 } from './manifest.ts';
import { decodeManifestPath, displayPath, type ManifestPath, pathBelow } from './manifest-path.ts';
import { maxSandboxId } from './manifest-schema.ts';
import { mapConcurrent } from './map-concurrent.ts';
import { fetchPack, packedFilesByPack } from './pack-reader.ts';
import type { SyncProgress } from './push-workspace.ts';
import { zeroHash } from './read-contents.ts';

const decompress = promisify(zstdDecompress);

/**
 * Packs fetched at once: each (up to ~8 MiB raw) is held in memory until it is unpacked to disk,
 * so this bounds a restore's memory; the bench's 10,000-file tree is ~20 packs, 3 rounds.
 */
const packFetchConcurrency = 8;

export interface PullOptions {
  store: ObjectStore;
  manifest: Manifest;
  /**
   * An empty directory that becomes the layer; a promise while it is still being made (a fresh
   * host's workspace disk: the downloads start meanwhile).
   */
  targetDirectory: string | Promise<string>;
  /** Verified chunks, shared by every workspace on this host. */
  cacheDirectory: string;
  /** How sandbox ids are stored on the host (the manifest holds sandbox ids). */
  idMapping: IdMapping;
  concurrency?: number;
  onProgress?: (progress: SyncProgress) => void;
}

type FileEntry = Extract<ManifestEntry, { type: 'file' }>;

/**
 * Rebuilds a layer from a manifest: fetches the packs (small files) and the chunks missing from
 * the local cache (large files, and every file of a version written before packs) in parallel,
 * verifies every pack, chunk and file against its hash before use, and recreates files, links,
 * whiteouts and opaque directories with their owners, modes and times (`mags-layer extract`). A
 * missing or damaged object stops the restore with an error naming the version and the file; it
 * never produces a silently wrong file (the caller removes the half-written directory).
 */
export async function pullWorkspace(options: PullOptions): Promise<{ downloadedBytes: number }> {
  const { manifest } = options;
  checkPaths(manifest);
  const files = manifest.entries.filter((entry) => entry.type === 'file');
  const byPack = packedFilesByPack(manifest);
  const chunked = files.filter(
    (file) => file.linkOf === undefined && file.pack === undefined && file.chunks.length > 0,
  );
  const fileOfChunk = new Map<string, string>();
  for (const file of chunked)
    for (const hash of file.chunks)
      if (!fileOfChunk.has(hash)) fileOfChunk.set(hash, displayPath(file.path));
  const progress: SyncProgress = {
    phase: 'uploading',
    files: 0,
    totalFiles: files.length,
    bytes: 0,
    totalBytes: manifest.totalBytes,
  };
  const wrote = (file: FileEntry) => {
    progress.files++;
    progress.bytes += file.size;
    options.onProgress?.({ ...progress });
  };
  let downloadedBytes = 0;
  const cachePath = (hash: string) => join(options.cacheDirectory, hash.slice(0, 2), hash);
  const fetchChunk = async (hash: string) => {
    const cached = await readFile(cachePath(hash)).catch(() => undefined);
    if (cached && sha256(cached) === hash) return;
    const body = await options.store.get(chunkKey(hash)).catch((error: unknown) => {
      if (error instanceof ObjectNotFoundError)
        throw damaged(fileOfChunk.get(hash) ?? '?', hash, 'is missing from the store');
      throw error;
    });
    downloadedBytes += body.length;
    // One output chunk (zlib's default is 16 KiB: a thread-pool round trip each).
    const data = await decompress(body, {
      chunkSize: chunkBytes,
      maxOutputLength: chunkBytes,
    }).catch(() => {
      throw damaged(fileOfChunk.get(hash) ?? '?', hash, 'does not decompress');
    });
    if (sha256(data) !== hash)
      throw damaged(fileOfChunk.get(hash) ?? '?', hash, 'does not match its hash');
    await mkdir(dirname(cachePath(hash)), { recursive: true });
    const temporary = `${cachePath(hash)}.${randomBytes(4).toString('hex')}`;
    await writeFile(temporary, data);
    await rename(temporary, cachePath(hash));
  };

  // Verified packs are unpacked beside the layer (same disk, not a tmpfs /tmp, and removed with
  // the staging directory's sweep if this process is killed).
  let unpackedDirectory: string | undefined;
  const host = (id: number) => options.idMapping.toHost(id);
  const owned = (entry: { uid: number; gid: number; mtimeMs: number }) => ({
    uid: host(entry.uid),
    gid: host(entry.gid),
    mtimeMs: entry.mtimeMs,
  });
  const ready = (async () => {
    const targetDirectory = await options.targetDirectory;
    await mkdir(targetDirectory, { recursive: true });
    unpackedDirectory = `${targetDirectory}.packs`;
    await mkdir(unpackedDirectory);
    await mkdir(options.cacheDirectory, { recursive: true });
    const extractor = new LayerExtractor({
      directory: targetDirectory,
      unpackedDirectory,
      cacheDirectory: options.cacheDirectory,
      // Sandbox ids 0..maxSandboxId (the manifest schema's range), or fewer if the mapping is
      // smaller (namespace runtime: idCount), and nothing else.
      hostIds: { first: host(0), last: host(lastSandboxId(options.idMapping)) },
    });
    // Directories and symlinks first, in path order (parents before children); then the files,
    // each pack's as it arrives; then what names a file (hard links) or hides one (whiteouts).
    extractor.batch(() => {
      for (const entry of manifest.entries) {
        const path = decodeManifestPath(entry.path);
        if (entry.type === 'directory')
          extractor.directory(path, entry.mode, owned(entry), entry.opaque === true);
        else if (entry.type === 'symlink')
          extractor.symlink(path, owned(entry), decodeManifestPath(entry.target));
        else if (entry.type === 'file' && entry.linkOf === undefined && entry.chunks.length === 0) {
          extractor.file(path, entry.mode, owned(entry), Buffer.alloc(0));
          wrote(entry);
        }
      }
    });
    return extractor;
  })();
  // Awaited below (by the first pack, or after the downloads): a directory that could not be
  // made is that await's error, not an unhandled rejection meanwhile.
  ready.catch(() => {});
  const stop = { stopped: false };
  try {
    const packs = [...byPack.entries()];
    await Promise.all([
      mapConcurrent([...fileOfChunk.keys()], options.concurrency ?? 32, fetchChunk, stop),
      mapConcurrent(
        packs,
        packFetchConcurrency,
        async ([index, packed]) => {
          const { raw, storedBytes } = await fetchPack(options.store, manifest, index, packed);
          downloadedBytes += storedBytes;
          const extractor = await ready;
          // The verified pack goes to a local file the extractor maps: 155 MB through the pipe cost
          // more than all the rest of the main thread's work.
          const source = String(index);
          await writeWhole(join(unpackedDirectory as string, source), raw);
          extractor.batch(() => {
            for (const file of packed) {
              const path = decodeManifestPath(file.path);
              extractor.slice(
                path,
                file.mode,
                owned(file),
                file.size,
                source,
                file.offset as number,
              );
              wrote(file);
            }
            extractor.release(source);
          });
          // The pipe holds a few hundred records: the extractor stays close behind the downloads.
          await extractor.drained();
        },
        stop,
      ),
    ]);
    const extractor = await ready;
    extractor.batch(() => {
      for (const file of chunked) {
        const pieces = file.chunks.map((hash, index) => ({
          offset: index * chunkBytes,
          // All-zero pieces are left out: the file stays sparse, as a multi-GB sparse file should.
          source:
            file.chunks.length > 1 &&
            hash === zeroHash(Math.min(chunkBytes, file.size - index * chunkBytes))
              ? undefined
              : join(hash.slice(0, 2), hash),
        }));
        extractor.pieces(decodeManifestPath(file.path), file.mode, owned(file), file.size, pieces);
        wrote(file);
      }
      for (const entry of manifest.entries) {
        if (entry.type === 'file' && entry.linkOf !== undefined)
          extractor.hardLink(decodeManifestPath(entry.path), decodeManifestPath(entry.linkOf));
        else if (entry.type === 'whiteout') extractor.whiteout(decodeManifestPath(entry.path));
      }
    });
    await extractor.close();
  } catch (error) {
    await ready.then(
      (extractor) => extractor.abort(),
      () => {},
    );
    throw error;
  } finally {
    stop.stopped = true;
    if (unpackedDirectory)
      await rm(unpackedDirectory, { recursive: true, force: true }).catch(() => {});
  }
  return { downloadedBytes };
}

function lastSandboxId(mapping: IdMapping): number {
  const { idCount } = mapping as { idCount?: unknown };
  return typeof idCount === 'number' ? Math.min(maxSandboxId, idCount - 1) : maxSandboxId;
}

/** One write call (writeFile cuts a buffer into 512 KiB writes, each a round trip). */
async function writeWhole(path: string, data: Buffer): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    for (let offset = 0; offset < data.length; ) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset, offset);
      offset += bytesWritten;
    }
  } finally {
    await handle.close();
  }
}

function damaged(path: string, hash: string, what: string): MagsError {
  return new MagsError(`Cannot restore ${path}: its chunk ${hash.slice(0, 16)}… ${what}.`, {
    code: 'chunk_corrupted',
    hint: 'The store is damaged; restore another version (mags workspace versions NAME) or repair the store.',
  });
}

/**
 * Every path is checked before anything is written: below the layer, named once, and not through
 * a symlink of this restore. The whole set of symlinks is gathered first: the extractor makes them
 * all before any file, hard link or whiteout, so a symlink listed after `a/x` would otherwise still
 * be followed when `a/x` is written (mags-layer extract also refuses symlinks on the way: openat2).
 * Duplicates are refused rather than order checked: manifests written before 2506642 are sorted by
 * UTF-16 code units, not bytes, and must still restore.
 */
function checkPaths(manifest: Manifest): void {
  const seen = new Set<string>();
  const symlinks = new Set<string>();
  for (const entry of manifest.entries) {
    pathBelow('.', entry.path);
    // latin1: one character per byte, so '/' is exactly byte 0x2F and prefixes compare as bytes.
    const key = decodeManifestPath(entry.path).toString('latin1');
    if (seen.has(key)) throw corrupted(`names ${JSON.stringify(displayPath(entry.path))} twice`);
    seen.add(key);
    if (entry.type === 'symlink') {
      symlinks.add(key);
      if (
        decodeManifestPath(entry.target).length === 0 ||
        decodeManifestPath(entry.target).includes(0)
      )
        throw corrupted(`has a symlink target that is empty or holds NUL`);
    }
    if (entry.type === 'file' && entry.linkOf !== undefined) pathBelow('.', entry.linkOf);
  }
  if (symlinks.size === 0) return;
  for (const entry of manifest.entries) {
    refuseThroughSymlink(entry.path, symlinks);
    if (entry.type === 'file' && entry.linkOf !== undefined)
      refuseThroughSymlink(entry.linkOf, symlinks);
  }
}

/** Throws when a proper prefix of `relative` is one of `symlinks`. */
function refuseThroughSymlink(relative: ManifestPath, symlinks: ReadonlySet<string>): void {
  const text = decodeManifestPath(relative).toString('latin1');
  for (let slash = text.indexOf('/'); slash >= 0; slash = text.indexOf('/', slash + 1)) {
    if (symlinks.has(text.slice(0, slash)))
      throw corrupted(`writes through a symlink (${JSON.stringify(displayPath(relative))})`);
  }
}

function corrupted(what: string): MagsError {
  return new MagsError(`The workspace manifest ${what}: the store is corrupted.`, {
    code: 'manifest_corrupted',
    hint: 'Restore another version (mags workspace versions NAME), or repair the store.',
  });
}
