import type { IdMapping } from '../../config/id-mapping.ts';
import type { ManifestEntry, PackReference } from './manifest.ts';
import { encodeManifestPath } from './manifest-path.ts';
import type { MergedEntry } from './merge-layers.ts';
import type { PackedLocation } from './pack-writer.ts';

/** Where a file's content is: its chunk hashes, and for a packed small file the pack. */
export interface FileContent {
  chunks: string[];
  size: number;
  packed?: PackedLocation;
}

/**
 * The manifest's entries for a scanned tree (in the scan's order), and the packs they read,
 * numbered in order of first use so the same tree with the same contents gives the same manifest.
 */
export function manifestEntries(
  scanned: MergedEntry[],
  /** By the scanned entries' own path Buffers. */
  contentByPath: ReadonlyMap<Buffer, FileContent>,
  primaryOfInode: ReadonlyMap<string, Buffer>,
  idMapping: IdMapping,
): { entries: ManifestEntry[]; packs: PackReference[] } {
  const packNumbers = new Map<PackReference, number>();
  const packs: PackReference[] = [];
  const toSandboxId = (id: number) => idMapping.toSandbox(id);
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
      const content = first === undefined ? contentByPath.get(entry.path) : undefined;
      let packed: { pack: number; offset: number } | undefined;
      if (content?.packed) {
        let number = packNumbers.get(content.packed.pack);
        if (number === undefined) {
          number = packs.length;
          packNumbers.set(content.packed.pack, number);
          packs.push(content.packed.pack);
        }
        packed = { pack: number, offset: content.packed.offset };
      }
      entries.push({
        path,
        type: 'file',
        mode: entry.mode,
        ...owner,
        mtimeMs: toMilliseconds(entry.mtimeNs),
        size: content?.size ?? entry.size,
        chunks: content?.chunks ?? [],
        ...(first === undefined ? {} : { linkOf: encodeManifestPath(first) }),
        ...(packed ?? {}),
      });
    }
    // Sockets, fifos and device nodes cannot be stored portably; they are left out.
  }
  // The sync's own objects: a pack still uploading gets its hash later (the caller copies them).
  return { entries, packs };
}

function toMilliseconds(nanoseconds: string): number {
  return Math.round(Number(nanoseconds) / 1e6);
}
