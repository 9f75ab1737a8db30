import { createHash, hash } from 'node:crypto';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { MagsError } from '../../errors/mags-error.ts';
import { displayPath, type ManifestPath } from './manifest-path.ts';
import { manifestSchema, maxManifestBytes } from './manifest-schema.ts';

/**
 * A workspace version: every entry of the overlay upper layer (files as lists of content-addressed
 * chunks, directories, symlinks, hard links, whiteouts and opaque directories), with ids relative
 * to the sandbox (so a host with another uid base restores it correctly). Times are whole
 * milliseconds: Node sets file times as floating-point seconds, so nanoseconds would not survive a
 * restore, and a restored workspace must produce the same manifest again. Paths and symlink
 * targets are bytes, stored as text when they are UTF-8 and as base64 otherwise (ManifestPath);
 * entries are in byte order of their paths.
 */
export type ManifestEntry =
  | {
      path: ManifestPath;
      type: 'directory';
      mode: number;
      uid: number;
      gid: number;
      mtimeMs: number;
      opaque?: true;
    }
  | {
      path: ManifestPath;
      type: 'file';
      mode: number;
      uid: number;
      gid: number;
      mtimeMs: number;
      size: number;
      /** The content's hashes: one per 8 MiB piece (a small file has one, an empty file none). */
      chunks: string[];
      /** Another path of the same inode (a hard link): no chunks of its own. */
      linkOf?: ManifestPath;
      /**
       * A small file's content is in a pack (`Manifest.packs[pack]`), at `offset` of the pack's
       * uncompressed bytes, `size` long; without it, each chunk is its own object (`chunkKey`).
       */
      pack?: number;
      offset?: number;
    }
  | {
      path: ManifestPath;
      type: 'symlink';
      uid: number;
      gid: number;
      mtimeMs: number;
      target: ManifestPath;
    }
  | { path: ManifestPath; type: 'whiteout' };

/** A pack this version reads: the sha256 of its stored (compressed) object, and its raw size. */
export interface PackReference {
  hash: string;
  bytes: number;
}

export interface Manifest {
  /** v2 when some file is in a pack (`packs`); a manifest without packs stays v1, as before. */
  format: 'mags-workspace-manifest-v1' | 'mags-workspace-manifest-v2';
  workspace: string;
  version: number;
  parentVersion: number | null;
  createdAt: string;
  host: string;
  totalBytes: number;
  entries: ManifestEntry[];
  /** The packs that entries' `pack` numbers index (v2 only). */
  packs?: PackReference[];
  /**
   * sha256 of the JSON of `entries` (then of `packs`, when there are any): a manifest damaged in
   * the store is refused, not half-used.
   */
  entriesSha256: string;
}

/** Files are cut into pieces of this size; each piece is one chunk (and one object). */
export const chunkBytes = 8 * 1024 * 1024;

export function manifestKey(workspace: string, version: number): string {
  return `workspaces/${workspace}/versions/${String(version).padStart(10, '0')}.json.zst`;
}

export function versionsPrefix(workspace: string): string {
  return `workspaces/${workspace}/versions/`;
}

export function versionFromKey(key: string): number | undefined {
  const match = /\/(\d{10})\.json\.zst$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

export function chunkKey(hash: string): string {
  return `chunks/${hash.slice(0, 2)}/${hash}`;
}

/** A pack object is named by the sha256 of its stored bytes (zstd of the packed contents). */
export function packKey(hash: string): string {
  return `packs/${hash.slice(0, 2)}/${hash}`;
}

export function sha256(data: Buffer): string {
  // One-shot crypto.hash: twice as fast as createHash() on a 5 KB file (measured here).
  return hash('sha256', data, 'hex');
}

export function entriesDigest(entries: ManifestEntry[], packs: PackReference[] = []): string {
  const hash = createHash('sha256').update(JSON.stringify(entries));
  // Without packs the digest is the v1 one, so a v1 manifest still checks.
  if (packs.length > 0) hash.update(JSON.stringify(packs));
  return hash.digest('hex');
}

export function encodeManifest(manifest: Manifest): Buffer {
  return zstdCompressSync(Buffer.from(JSON.stringify(manifest)));
}

export function decodeManifest(body: Buffer, key: string): Manifest {
  let decoded: unknown;
  try {
    // Bounded: a small object that inflates to gigabytes is refused, not decompressed.
    decoded = JSON.parse(
      zstdDecompressSync(body, { maxOutputLength: maxManifestBytes }).toString('utf8'),
    );
  } catch (error) {
    throw corrupted(key, 'it does not decode', error);
  }
  const format = (decoded as { format?: unknown } | null)?.format;
  if (format !== 'mags-workspace-manifest-v1' && format !== 'mags-workspace-manifest-v2') {
    throw new MagsError(
      `The workspace manifest ${key} has a format this mags does not read (${JSON.stringify(format)}).`,
      {
        code: 'manifest_unsupported',
        hint: 'It was written by a newer version of mags: upgrade this host to it.',
      },
    );
  }
  const parsed = manifestSchema.safeParse(decoded);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw corrupted(key, `${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`);
  }
  // The digest is of the JSON as stored: the decoded object, not the schema's copy (whose keys
  // are in the schema's order). The schema passed it, and its objects are strict: it is a Manifest.
  const manifest = decoded as Manifest;
  if (entriesDigest(manifest.entries, manifest.packs ?? []) !== manifest.entriesSha256)
    throw corrupted(key, 'its checksum does not match');
  checkContents(manifest, key);
  return manifest;
}

/** A file's chunks must be exactly the pieces its size implies, a packed file one small piece. */
function checkContents(manifest: Manifest, key: string): void {
  for (const entry of manifest.entries) {
    if (entry.type !== 'file' || entry.linkOf !== undefined) continue;
    const where = JSON.stringify(displayPath(entry.path));
    if (entry.chunks.length !== Math.ceil(entry.size / chunkBytes))
      throw corrupted(key, `${where} has ${entry.chunks.length} chunks for ${entry.size} bytes`);
    if ((entry.pack === undefined) !== (entry.offset === undefined))
      throw corrupted(key, `${where} has half a pack reference`);
    if (entry.pack !== undefined && entry.size >= chunkBytes)
      throw corrupted(key, `${where} is too large to be packed`);
  }
}

function corrupted(key: string, why: string, cause?: unknown): MagsError {
  return new MagsError(`The workspace manifest ${key} is corrupted (${why}).`, {
    code: 'manifest_corrupted',
    ...(cause === undefined ? {} : { cause }),
    hint: 'Restore another version (mags workspace versions NAME), or repair the store.',
  });
}
