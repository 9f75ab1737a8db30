import { createHash, hash } from 'node:crypto';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { MagsError } from '../../errors/mags-error.ts';
import type { ManifestPath } from './manifest-path.ts';

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
  let manifest: Manifest;
  try {
    manifest = JSON.parse(zstdDecompressSync(body).toString('utf8')) as Manifest;
  } catch (error) {
    throw new MagsError(`The workspace manifest ${key} is corrupted (it does not decode).`, {
      code: 'manifest_corrupted',
      cause: error,
      hint: 'Restore another version (mags workspace versions NAME), or repair the store.',
    });
  }
  if (
    (manifest.format !== 'mags-workspace-manifest-v1' &&
      manifest.format !== 'mags-workspace-manifest-v2') ||
    entriesDigest(manifest.entries ?? [], manifest.packs ?? []) !== manifest.entriesSha256
  ) {
    throw new MagsError(
      `The workspace manifest ${key} is corrupted (its checksum does not match).`,
      {
        code: 'manifest_corrupted',
        hint: 'Restore another version (mags workspace versions NAME), or repair the store.',
      },
    );
  }
  return manifest;
}
