import { randomBytes } from 'node:crypto';
import {
  chmod,
  copyFile,
  lchown,
  link,
  lutimes,
  mkdir,
  open,
  readFile,
  rename,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { zstdDecompress } from 'node:zlib';
import type { IdMapping } from '../../config/id-mapping.ts';
import { MagsError } from '../../errors/mags-error.ts';
import { ObjectNotFoundError, type ObjectStore } from '../../storage/object-store.ts';
import { applyMarkers, marker } from './layer-markers.ts';
import { chunkBytes, chunkKey, type Manifest, sha256 } from './manifest.ts';
import { decodeManifestPath, displayPath, type ManifestPath, pathBelow } from './manifest-path.ts';
import { mapConcurrent } from './map-concurrent.ts';
import type { SyncProgress } from './push-workspace.ts';

const decompress = promisify(zstdDecompress);

export interface PullOptions {
  store: ObjectStore;
  manifest: Manifest;
  /** An empty directory that becomes the layer. */
  targetDirectory: string;
  /** Verified chunks, shared by every workspace on this host. */
  cacheDirectory: string;
  /** How sandbox ids are stored on the host (the manifest holds sandbox ids). */
  idMapping: IdMapping;
  concurrency?: number;
  onProgress?: (progress: SyncProgress) => void;
}

/**
 * Rebuilds a layer from a manifest: fetches the chunks missing from the local cache in parallel,
 * verifies every one against its hash before use, and recreates files, links, whiteouts and
 * opaque directories with their owners, modes and times. A missing or damaged chunk stops the
 * restore with an error naming the file; it never produces a silently wrong file.
 */
export async function pullWorkspace(options: PullOptions): Promise<{ downloadedBytes: number }> {
  const { manifest, targetDirectory } = options;
  const files = manifest.entries.filter((entry) => entry.type === 'file');
  const fileOfChunk = new Map<string, string>();
  for (const file of files)
    for (const hash of file.chunks)
      if (!fileOfChunk.has(hash)) fileOfChunk.set(hash, displayPath(file.path));
  const progress: SyncProgress = {
    phase: 'uploading',
    files: 0,
    totalFiles: files.length,
    bytes: 0,
    totalBytes: manifest.totalBytes,
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
    const data = await decompress(body).catch(() => {
      throw damaged(fileOfChunk.get(hash) ?? '?', hash, 'does not decompress');
    });
    if (sha256(data) !== hash)
      throw damaged(fileOfChunk.get(hash) ?? '?', hash, 'does not match its hash');
    await mkdir(dirname(cachePath(hash)), { recursive: true });
    const temporary = `${cachePath(hash)}.${randomBytes(4).toString('hex')}`;
    await writeFile(temporary, data);
    await rename(temporary, cachePath(hash));
  };
  await mapConcurrent([...fileOfChunk.keys()], options.concurrency ?? 32, fetchChunk);

  const markers: Buffer[] = [];
  await mkdir(targetDirectory, { recursive: true });
  const host = (id: number) => options.idMapping.toHost(id);
  // The symlinks restored so far: no later entry may go through one (a crafted manifest's
  // `a -> /etc`, then `a/passwd`, would otherwise write outside the layer, as root).
  const symlinks = new Set<string>();
  for (const entry of manifest.entries) {
    // Buffer paths throughout: names need not be UTF-8 (see manifest-path.ts).
    const path = pathBelow(targetDirectory, entry.path);
    refuseThroughSymlink(entry.path, symlinks);
    if (entry.type === 'file' && entry.linkOf !== undefined) {
      refuseThroughSymlink(entry.linkOf, symlinks);
    }
    if (entry.type === 'symlink') symlinks.add(decodeManifestPath(entry.path).toString('latin1'));
    if (entry.type === 'directory') {
      await mkdir(path, { recursive: true });
      if (entry.opaque) markers.push(marker('o', path));
    } else if (entry.type === 'symlink') {
      await symlink(decodeManifestPath(entry.target), path);
    } else if (entry.type === 'whiteout') {
      markers.push(marker('w', path));
    } else if (entry.linkOf !== undefined) {
      await link(pathBelow(targetDirectory, entry.linkOf), path);
    } else {
      await writeFileFromChunks(path, entry.chunks, entry.size, cachePath);
      progress.files++;
      progress.bytes += entry.size;
      options.onProgress?.({ ...progress });
    }
  }
  if (markers.length > 0) await applyMarkers(Buffer.concat(markers));

  // Owners, modes and times last, deepest first, so setting a directory's time is not undone by
  // writing into it, and a read-only directory does not block its own restore.
  for (const entry of [...manifest.entries].reverse()) {
    if (entry.type === 'whiteout' || (entry.type === 'file' && entry.linkOf !== undefined))
      continue;
    const path = pathBelow(targetDirectory, entry.path);
    await lchown(path, host(entry.uid), host(entry.gid));
    const seconds = entry.mtimeMs / 1000;
    if (entry.type === 'symlink') {
      await lutimes(path, seconds, seconds);
      continue;
    }
    await chmod(path, entry.mode);
    await utimes(path, seconds, seconds);
  }
  return { downloadedBytes };
}

async function writeFileFromChunks(
  path: Buffer,
  chunks: string[],
  size: number,
  cachePath: (hash: string) => string,
): Promise<void> {
  if (chunks.length === 1) {
    await copyFile(cachePath(chunks[0] as string), path);
    return;
  }
  const handle = await open(path, 'w');
  try {
    for (const [index, hash] of chunks.entries()) {
      const data = await readFile(cachePath(hash));
      // All-zero pieces are skipped: the file stays sparse, as a multi-GB sparse file should.
      if (!isZero(data)) await handle.write(data, 0, data.length, index * chunkBytes);
    }
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

const zeroes = Buffer.alloc(chunkBytes);

function isZero(data: Buffer): boolean {
  return data.equals(zeroes.subarray(0, data.length));
}

function damaged(path: string, hash: string, what: string): MagsError {
  return new MagsError(`Cannot restore ${path}: its chunk ${hash.slice(0, 16)}… ${what}.`, {
    code: 'chunk_corrupted',
    hint: 'The store is damaged; restore another version (mags workspace versions NAME) or repair the store.',
  });
}

/** Throws when a proper prefix of `relative` is a symlink this restore made (see its caller). */
function refuseThroughSymlink(relative: ManifestPath, symlinks: ReadonlySet<string>): void {
  if (symlinks.size === 0) return;
  // latin1: one character per byte, so '/' is exactly byte 0x2F and prefixes compare as bytes.
  const text = decodeManifestPath(relative).toString('latin1');
  for (let slash = text.indexOf('/'); slash >= 0; slash = text.indexOf('/', slash + 1)) {
    if (!symlinks.has(text.slice(0, slash))) continue;
    throw new MagsError(
      `The workspace manifest writes through a symlink (${JSON.stringify(displayPath(relative))}): the store is corrupted.`,
      {
        code: 'manifest_corrupted',
        hint: 'Restore another version (mags workspace versions NAME), or repair the store.',
      },
    );
  }
}
