import type { ObjectStore } from '../../storage/object-store.ts';
import { type Manifest, type PackReference, packKey } from './manifest.ts';
import { mapConcurrent } from './map-concurrent.ts';
import type { PackedLocation } from './pack-writer.ts';

/** Where a content already stored lives: in a pack, or as its own chunk object (`chunkKey`). */
export type StoredContent = PackedLocation | 'chunk';

/**
 * Every content the given versions reference, by hash: what a sync need not upload again. A
 * pack is one object per hash across all the manifests, so its liveness can be counted.
 */
export function storedContents(manifests: Manifest[]): Map<string, StoredContent> {
  const contents = new Map<string, StoredContent>();
  const packs = new Map<string, PackReference>();
  for (const manifest of manifests) {
    const references = (manifest.packs ?? []).map((pack) => {
      let shared = packs.get(pack.hash);
      if (!shared) {
        shared = { hash: pack.hash, bytes: pack.bytes };
        packs.set(pack.hash, shared);
      }
      return shared;
    });
    for (const entry of manifest.entries) {
      if (entry.type !== 'file' || entry.linkOf !== undefined) continue;
      if (entry.pack !== undefined) {
        const pack = references[entry.pack];
        // A reference that does not hold up is not trusted: the content is simply sent again.
        if (pack && entry.offset !== undefined && entry.chunks.length === 1) {
          if (!contents.has(entry.chunks[0] as string))
            contents.set(entry.chunks[0] as string, { pack, offset: entry.offset });
        }
      } else {
        for (const hash of entry.chunks) if (!contents.has(hash)) contents.set(hash, 'chunk');
      }
    }
  }
  return contents;
}

/**
 * The packs a version would read for less than `minimumLiveFraction` of their bytes: a restore
 * fetches whole packs, so a sync packs these files again instead of keeping such a pack alive
 * for a few of its files (a restore then downloads at most 1/fraction of what it keeps).
 */
export function sparsePacks(
  contents: Iterable<{ packed?: PackedLocation; size: number } | undefined>,
  minimumLiveFraction: number,
): Set<PackReference> {
  // Live bytes per pack, each place in it counted once (files with one content share a place).
  const live = new Map<PackReference, { bytes: number; places: Set<number> }>();
  for (const content of contents) {
    if (!content?.packed) continue;
    const { pack, offset } = content.packed;
    let usage = live.get(pack);
    if (!usage) {
      usage = { bytes: 0, places: new Set() };
      live.set(pack, usage);
    }
    if (usage.places.has(offset)) continue;
    usage.places.add(offset);
    usage.bytes += content.size;
  }
  const sparse = new Set<PackReference>();
  for (const [pack, usage] of live)
    if (usage.bytes < pack.bytes * minimumLiveFraction) sparse.add(pack);
  return sparse;
}

/** The packs of `used` this sync did not write itself that are no longer in the store. */
export async function missingPacks(
  store: ObjectStore,
  used: PackReference[],
  written: ReadonlySet<PackReference>,
  concurrency: number,
): Promise<Set<PackReference>> {
  const gone = new Set<PackReference>();
  const reused = used.filter((pack) => !written.has(pack));
  await mapConcurrent(reused, concurrency, async (pack) => {
    if ((await store.head(packKey(pack.hash))) === undefined) gone.add(pack);
  });
  return gone;
}
