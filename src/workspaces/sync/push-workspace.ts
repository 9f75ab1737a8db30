import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { zstdCompress } from 'node:zlib';
import type { IdMapping } from '../../config/id-mapping.ts';
import { ConflictError } from '../../errors/mags-error.ts';
import { type ObjectStore, PreconditionFailedError } from '../../storage/object-store.ts';
import {
  chunkBytes,
  chunkKey,
  encodeManifest,
  entriesDigest,
  type Manifest,
  manifestKey,
  type PackReference,
} from './manifest.ts';
import { type FileContent, manifestEntries } from './manifest-entries.ts';
import { pathKey } from './manifest-path.ts';
import { mapConcurrent } from './map-concurrent.ts';
import { type LowerLayer, type MergedEntry, scanWorkspaceLayers } from './merge-layers.ts';
import { PackWriter } from './pack-writer.ts';
import { readAndUploadChunks, readSmallFile } from './read-contents.ts';
import { missingPacks, sparsePacks, storedContents } from './stored-contents.ts';
import { latestVersion, loadManifest } from './versions.ts';

const compress = promisify(zstdCompress);

export interface SyncProgress {
  phase: 'scanning' | 'uploading' | 'committing';
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface PushOptions {
  store: ObjectStore;
  workspace: string;
  upperDir: string;
  /** A fork's read-only chain below `upperDir`, the top-most first: synced merged with it. */
  lowerLayers?: LowerLayer[];
  /** Where the local sync state lives (the workspace directory). */
  stateDirectory: string;
  /** How sandbox ids are stored on the host (the manifest holds sandbox ids). */
  idMapping: IdMapping;
  /** The version the local layer was restored from or last synced as. */
  baseVersion: number | null;
  /** Other versions whose stored contents this sync may reference (a fork's sources). */
  sharedManifests?: Manifest[];
  /**
   * Files smaller than this are packed (default 256 KiB); 0 stores every file as its own
   * chunk objects, the layout before packs (kept for the benchmark's comparison).
   */
  smallFileBytes?: number;
  /** A pack is sealed at this many bytes of contents (default 8 MiB). */
  packTargetBytes?: number;
  concurrency?: number;
  onProgress?: (progress: SyncProgress) => void;
}

export interface PushResult {
  version: number;
  /** False when nothing changed since `baseVersion`: no new version was written. */
  committed: boolean;
  /** Chunk objects uploaded: pieces of large files. */
  uploadedChunks: number;
  /** Pack objects uploaded: small files, many to a pack. */
  uploadedPacks: number;
  uploadedBytes: number;
  totalBytes: number;
}

/** What the last sync learned about each file, so unchanged files are not read again. */
interface FileState {
  size: number;
  mtimeNs: string;
  inode: string;
  chunks: string[];
}

export const defaultSmallFileBytes = 256 * 1024;
const defaultPackTargetBytes = 8 * 1024 * 1024;
/** A new version keeps reading an older pack only while it reads at least this part of it. */
const minimumLiveFraction = 0.5;

/**
 * Uploads the contents the store lacks (small files packed, large files as chunks), then commits
 * the manifest as version base+1 with a conditional write: a crash before the commit leaves the
 * previous version intact (the new objects are unreferenced until garbage collection), and a
 * second host committing the same base version gets a conflict instead of overwriting.
 */
export async function pushWorkspace(options: PushOptions): Promise<PushResult> {
  const { store, workspace } = options;
  // The local scan and the store's listing and base manifest do not depend on each other.
  const statePath = join(options.stateDirectory, 'sync-state.json');
  const reading = readFile(statePath, 'utf8').catch(() => '{}');
  // Directory listing order differs between hosts; the manifest must not. Byte order of the paths
  // puts every parent before its children.
  const scanning = scanWorkspaceLayers(options.upperDir, options.lowerLayers ?? []).then(
    (entries) => entries.sort((a, b) => Buffer.compare(a.path, b.path)),
  );
  scanning.catch(() => {}); // awaited below, unless a conflict is found first
  const latest = await latestVersion(store, workspace);
  const pendingPath = join(options.stateDirectory, 'sync-pending.json');
  const base = latest === null ? undefined : await loadManifest(store, workspace, latest);
  if (latest !== null && latest !== options.baseVersion) {
    // A sync killed between its commit and its local record left this host's own commit behind:
    // recognised by the digest it wrote down before committing, it is adopted, not a conflict.
    const pending = JSON.parse(await readFile(pendingPath, 'utf8').catch(() => '{}')) as {
      version?: number;
      digest?: string;
    };
    if (pending.version !== latest || pending.digest !== base?.entriesSha256) {
      throw conflict(workspace, options.baseVersion, latest);
    }
  }
  const known = storedContents([...(base ? [base] : []), ...(options.sharedManifests ?? [])]);
  const smallFileBytes = Math.min(options.smallFileBytes ?? defaultSmallFileBytes, chunkBytes);
  const previous = new Map<string, FileState>(
    Object.entries(JSON.parse(await reading) as Record<string, FileState>),
  );
  const scanned = await scanning;
  const files = scanned.filter((entry) => entry.type === 'f');
  const progress: SyncProgress = {
    phase: 'uploading',
    files: 0,
    totalFiles: files.length,
    bytes: 0,
    totalBytes: files.reduce((sum, file) => sum + file.size, 0),
  };
  options.onProgress?.({ ...progress, phase: 'scanning' });

  const state: Record<string, FileState> = {};
  // Hard links: the first path of each inode carries the content, the others point at it
  // (entries are restored in path order, so the target always exists first). Paths are compared
  // by identity below: the map holds the very Buffers of `files`.
  const primaryOfInode = new Map<string, Buffer>();
  for (const file of files)
    if (file.links > 1 && !primaryOfInode.has(file.inode))
      primaryOfInode.set(file.inode, file.path);
  const primaries = files.filter(
    (file) => !(file.links > 1 && primaryOfInode.get(file.inode) !== file.path), // stored once
  );
  let uploadedChunks = 0;
  let uploadedChunkBytes = 0;
  const uploading = new Map<string, Promise<void>>();
  const uploadChunk = (hash: string, data: Buffer): Promise<void> => {
    if (known.get(hash) === 'chunk') return Promise.resolve();
    let pending = uploading.get(hash);
    if (!pending) {
      pending = (async () => {
        // Content-addressed: a chunk another workspace or version already stored is not sent again.
        if (await store.head(chunkKey(hash))) return;
        const body = await compress(data, { chunkSize: 1024 * 1024 });
        await store.put(chunkKey(hash), body);
        uploadedChunks++;
        uploadedChunkBytes += body.length;
      })();
      uploading.set(hash, pending);
    }
    return pending;
  };
  const packer = new PackWriter({
    store,
    targetBytes: options.packTargetBytes ?? defaultPackTargetBytes,
  });
  /** Reads a file and stores what the store lacks; the contents of `repacking` go again. */
  const readContent = async (
    file: MergedEntry,
    repacking?: ReadonlySet<PackReference>,
  ): Promise<FileContent> => {
    const path = Buffer.concat([Buffer.from(`${file.directory}/`), file.path]);
    if (file.size === 0 || file.size >= smallFileBytes)
      return { chunks: await readAndUploadChunks(path, file.size, uploadChunk), size: file.size };
    const { hash, data } = await readSmallFile(path, file.size);
    const stored = known.get(hash);
    if (stored === 'chunk') return { chunks: [hash], size: data.length };
    if (stored && !repacking?.has(stored.pack))
      return { chunks: [hash], size: data.length, packed: stored };
    return { chunks: [hash], size: data.length, packed: await packer.add(hash, data) };
  };

  /** An unchanged file's content as stored, or undefined when some of it is not stored. */
  const reuse = (chunks: string[], size: number): FileContent | undefined => {
    if (chunks.length === 1) {
      const stored = known.get(chunks[0] as string);
      if (stored === undefined) return undefined;
      return stored === 'chunk' ? { chunks, size } : { chunks, size, packed: stored };
    }
    for (const hash of chunks) if (known.get(hash) === undefined) return undefined;
    return { chunks, size };
  };
  // Indexed like `primaries`: a path's key is made once, and the passes below are plain loops.
  const contents: FileContent[] = new Array(primaries.length);
  const keys = primaries.map((file) => pathKey(file.path));
  const record = (index: number, content: FileContent) => {
    const file = primaries[index] as MergedEntry;
    contents[index] = content;
    state[keys[index] as string] = {
      size: file.size,
      mtimeNs: file.mtimeNs,
      inode: file.inode,
      chunks: content.chunks,
    };
  };
  const indices = primaries.map((_, index) => index);
  await mapConcurrent(indices, options.concurrency ?? 32, async (index) => {
    const file = primaries[index] as MergedEntry;
    const cached = previous.get(keys[index] as string);
    // Unchanged files are not read again, as long as their contents are in the base version (a
    // sync interrupted before its commit may have left them out: then they are read and checked).
    const reused =
      cached &&
      cached.size === file.size &&
      cached.mtimeNs === file.mtimeNs &&
      cached.inode === file.inode
        ? reuse(cached.chunks, file.size)
        : undefined;
    record(index, reused ?? (await readContent(file)));
    progress.files++;
    progress.bytes += file.size;
    options.onProgress?.({ ...progress });
  });
  await Promise.all(uploading.values());
  const result = (committed: boolean, version: number): PushResult => ({
    version,
    committed,
    uploadedChunks,
    uploadedPacks: packer.uploadedPacks,
    uploadedBytes: uploadedChunkBytes + packer.uploadedBytes,
    totalBytes: progress.totalBytes,
  });

  // Files the version has in older packs it would read little of are packed again (a tree
  // unchanged since its base version has none: the base kept only packs it reads enough of).
  const repack = async (packs: ReadonlySet<PackReference>) => {
    const moving = indices.filter((index) => {
      const pack = contents[index]?.packed?.pack;
      return pack !== undefined && packs.has(pack);
    });
    await mapConcurrent(moving, options.concurrency ?? 32, async (index) =>
      record(index, await readContent(primaries[index] as MergedEntry, packs)),
    );
  };
  await repack(sparsePacks(contents, minimumLiveFraction));
  const makeEntries = () => {
    // By the very path Buffers of the scan (identity: no key to make again).
    const contentByPath = new Map<Buffer, FileContent>();
    for (const [index, file] of primaries.entries())
      contentByPath.set(file.path, contents[index] as FileContent);
    return manifestEntries(scanned, contentByPath, primaryOfInode, options.idMapping);
  };
  // The last pack uploads while the entries are made (they hold the pack, its hash comes later).
  const finishing = packer.finish();
  finishing.catch(() => {}); // awaited below
  let { entries, packs: used } = makeEntries();
  await finishing;
  // Packs reused from other versions (the base's, a fork source's) may have been collected
  // meanwhile (their versions deleted, then GC): a version reading them would not restore. They
  // are checked (one HEAD each, a dozen for a large tree) and, if gone, their files packed again.
  const gone = await missingPacks(store, used, packer.written, options.concurrency ?? 32);
  if (gone.size > 0) {
    await repack(gone);
    await packer.finish();
    ({ entries, packs: used } = makeEntries());
  }
  const packs = used.map((pack) => ({ hash: pack.hash, bytes: pack.bytes }));
  const digest = entriesDigest(entries, packs);
  if (base && base.entriesSha256 === digest) {
    await saveState(statePath, state);
    return result(false, base.version);
  }
  const version = (latest ?? 0) + 1;
  const manifest: Manifest = {
    format: packs.length > 0 ? 'mags-workspace-manifest-v2' : 'mags-workspace-manifest-v1',
    workspace,
    version,
    parentVersion: latest,
    createdAt: new Date().toISOString(),
    host: hostname(),
    totalBytes: progress.totalBytes,
    entries,
    ...(packs.length > 0 ? { packs } : {}),
    entriesSha256: digest,
  };
  options.onProgress?.({ ...progress, phase: 'committing' });
  await writeFile(pendingPath, JSON.stringify({ version, digest }));
  try {
    await store.put(manifestKey(workspace, version), encodeManifest(manifest), {
      ifNoneMatch: '*',
    });
  } catch (error) {
    if (error instanceof PreconditionFailedError)
      throw conflict(workspace, options.baseVersion, version);
    throw error;
  }
  await saveState(statePath, state);
  await rm(pendingPath, { force: true });
  return result(true, version);
}

async function saveState(path: string, state: Record<string, FileState>): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(state));
  await rename(`${path}.tmp`, path);
}

function conflict(workspace: string, base: number | null, found: number): ConflictError {
  return new ConflictError(
    `Workspace ${JSON.stringify(workspace)} has version ${found} in the store, but this host's copy is based on ${base === null ? 'no version' : `version ${base}`}: another host synced it meanwhile.`,
    {
      workspace,
      code: 'sync_conflict',
      hint: `Nothing was overwritten and the local copy is untouched. Keep the other host's version with: mags workspace pull ${workspace}  (this discards local changes)`,
    },
  );
}
