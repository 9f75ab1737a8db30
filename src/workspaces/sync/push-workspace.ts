import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
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
  type ManifestEntry,
  manifestKey,
  sha256,
} from './manifest.ts';
import { encodeManifestPath, pathKey } from './manifest-path.ts';
import { mapConcurrent } from './map-concurrent.ts';
import { type LowerLayer, scanWorkspaceLayers } from './merge-layers.ts';
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
  concurrency?: number;
  onProgress?: (progress: SyncProgress) => void;
}

export interface PushResult {
  version: number;
  /** False when nothing changed since `baseVersion`: no new version was written. */
  committed: boolean;
  uploadedChunks: number;
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

/**
 * Uploads the chunks the store lacks, then commits the manifest as version base+1 with a
 * conditional write: a crash before the commit leaves the previous version intact (the new
 * chunks are unreferenced until garbage collection), and a second host committing the same base
 * version gets a conflict instead of overwriting.
 */
export async function pushWorkspace(options: PushOptions): Promise<PushResult> {
  const { store, workspace } = options;
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
  const known = new Set(
    base?.entries.flatMap((entry) => (entry.type === 'file' ? entry.chunks : [])) ?? [],
  );
  const statePath = join(options.stateDirectory, 'sync-state.json');
  const previous = new Map<string, FileState>(
    Object.entries(
      JSON.parse(await readFile(statePath, 'utf8').catch(() => '{}')) as Record<string, FileState>,
    ),
  );

  // Directory listing order differs between hosts; the manifest must not. Byte order of the paths
  // puts every parent before its children.
  const scanned = (await scanWorkspaceLayers(options.upperDir, options.lowerLayers ?? [])).sort(
    (a, b) => Buffer.compare(a.path, b.path),
  );
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
  let uploadedChunks = 0;
  let uploadedBytes = 0;
  const uploading = new Map<string, Promise<void>>();
  const upload = (hash: string, data: Buffer): Promise<void> => {
    if (known.has(hash)) return Promise.resolve();
    let pending = uploading.get(hash);
    if (!pending) {
      pending = (async () => {
        // Content-addressed: a chunk another workspace or version already stored is not sent again.
        if (await store.head(chunkKey(hash))) return;
        const body = await compress(data);
        await store.put(chunkKey(hash), body);
        uploadedChunks++;
        uploadedBytes += body.length;
      })();
      uploading.set(hash, pending);
    }
    return pending;
  };

  const chunksByPath = new Map<string, string[]>();
  await mapConcurrent(files, options.concurrency ?? 32, async (file) => {
    if (file.links > 1 && primaryOfInode.get(file.inode) !== file.path) return; // stored once
    const key = pathKey(file.path);
    const cached = previous.get(key);
    let chunks: string[];
    const unchanged =
      cached &&
      cached.size === file.size &&
      cached.mtimeNs === file.mtimeNs &&
      cached.inode === file.inode;
    // Unchanged files are not read again, as long as their chunks are in the base version (a sync
    // interrupted before its commit may have left them out: then they are read and checked).
    if (unchanged && cached.chunks.every((hash) => known.has(hash))) {
      chunks = cached.chunks;
    } else {
      const path = Buffer.concat([Buffer.from(`${file.directory}/`), file.path]);
      chunks = await readAndUpload(path, file.size, upload);
    }
    chunksByPath.set(key, chunks);
    state[key] = { size: file.size, mtimeNs: file.mtimeNs, inode: file.inode, chunks };
    progress.files++;
    progress.bytes += file.size;
    options.onProgress?.({ ...progress });
  });
  await Promise.all(uploading.values());

  const toSandboxId = (id: number) => options.idMapping.toSandbox(id);
  const entries: ManifestEntry[] = [];
  for (const entry of scanned) {
    const owner = { uid: toSandboxId(entry.uid), gid: toSandboxId(entry.gid) };
    const path = encodeManifestPath(entry.path);
    if (entry.type === 'd') {
      entries.push({
        path,
        type: 'directory',
        mode: entry.mode,
        ...owner,
        mtimeMs: toMilliseconds(entry.mtimeNs),
        ...(entry.opaque ? { opaque: true as const } : {}),
      });
    } else if (entry.type === 'l') {
      entries.push({
        path,
        type: 'symlink',
        ...owner,
        mtimeMs: toMilliseconds(entry.mtimeNs),
        target: encodeManifestPath(entry.target),
      });
    } else if (entry.type === 'w') {
      entries.push({ path, type: 'whiteout' });
    } else if (entry.type === 'f') {
      const primary = entry.links > 1 ? primaryOfInode.get(entry.inode) : undefined;
      const first = primary === entry.path ? undefined : primary;
      entries.push({
        path,
        type: 'file',
        mode: entry.mode,
        ...owner,
        mtimeMs: toMilliseconds(entry.mtimeNs),
        size: entry.size,
        chunks: first === undefined ? (chunksByPath.get(pathKey(entry.path)) ?? []) : [],
        ...(first === undefined ? {} : { linkOf: encodeManifestPath(first) }),
      });
    }
    // Sockets, fifos and device nodes cannot be stored portably; they are left out.
  }

  const digest = entriesDigest(entries);
  if (base && base.entriesSha256 === digest) {
    await saveState(statePath, state);
    return {
      version: base.version,
      committed: false,
      uploadedChunks,
      uploadedBytes,
      totalBytes: progress.totalBytes,
    };
  }
  const version = (latest ?? 0) + 1;
  const manifest: Manifest = {
    format: 'mags-workspace-manifest-v1',
    workspace,
    version,
    parentVersion: latest,
    createdAt: new Date().toISOString(),
    host: hostname(),
    totalBytes: progress.totalBytes,
    entries,
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
  return {
    version,
    committed: true,
    uploadedChunks,
    uploadedBytes,
    totalBytes: progress.totalBytes,
  };
}

// Sparse files and preallocated images are mostly zeroes: comparing with a zero buffer (memcmp)
// is far cheaper than hashing, and every all-zero piece of a given length has one known hash.
const zeroes = Buffer.alloc(chunkBytes);
const zeroHashes = new Map<number, string>();
function zeroHash(length: number): string {
  let hash = zeroHashes.get(length);
  if (hash === undefined) {
    hash = sha256(zeroes.subarray(0, length));
    zeroHashes.set(length, hash);
  }
  return hash;
}

function toMilliseconds(nanoseconds: string): number {
  return Math.round(Number(nanoseconds) / 1e6);
}

async function readAndUpload(
  path: Buffer,
  size: number,
  upload: (hash: string, data: Buffer) => Promise<void>,
): Promise<string[]> {
  const chunks: string[] = [];
  const handle = await open(path, 'r');
  try {
    for (let offset = 0; offset < size; offset += chunkBytes) {
      const length = Math.min(chunkBytes, size - offset);
      const data = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(data, 0, length, offset);
      const piece = data.subarray(0, bytesRead);
      const hash = piece.equals(zeroes.subarray(0, piece.length))
        ? zeroHash(piece.length)
        : sha256(piece);
      chunks.push(hash);
      await upload(hash, piece);
    }
  } finally {
    await handle.close();
  }
  return chunks;
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
