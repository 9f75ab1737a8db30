import { type LayerEntry, scanLayer } from './layer-scan.ts';

/** An entry of a workspace's merged layers, with the layer directory its content is read from. */
export interface MergedEntry extends LayerEntry {
  directory: string;
}

/** A read-only layer below the upper one; `key` names it (its inodes are unique only within it). */
export interface LowerLayer {
  directory: string;
  key: string;
}

/**
 * Every entry of a workspace as a sandbox sees it above the image: its upper layer over its chain
 * (a fork's frozen layers), with overlayfs's rules applied, so a version of a fork holds all its
 * files, not only those it changed. A whiteout or an opaque directory hides what the layers below
 * it hold; the whiteout itself is kept (it may hide a file of the image), and a directory that
 * replaces a file or a whiteout of a lower layer stays opaque, as overlayfs would make it
 * (Documentation/filesystems/overlayfs.rst, "whiteouts and opaque directories"). Inodes of lower
 * layers are prefixed with the layer's key: two layers may live on two filesystems.
 */
export async function scanWorkspaceLayers(
  upperDir: string,
  lowerLayers: LowerLayer[],
): Promise<MergedEntry[]> {
  const upper = (await scanLayer(upperDir)).map((entry) => ({ ...entry, directory: upperDir }));
  if (lowerLayers.length === 0) return upper;
  const merged = new Map<string, MergedEntry>();
  // Bottom-most first: each layer then overrides what is below it.
  const layers = [...lowerLayers].reverse();
  for (const layer of layers) {
    const entries = (await scanLayer(layer.directory)).map((entry) => ({
      ...entry,
      inode: `${layer.key}:${entry.inode}`,
      directory: layer.directory,
    }));
    apply(merged, entries);
  }
  apply(merged, upper);
  return [...merged.values()];
}

function apply(merged: Map<string, MergedEntry>, entries: MergedEntry[]): void {
  for (const entry of entries) {
    const key = entry.path.toString('latin1');
    const below = merged.get(key);
    if (entry.type === 'd' && !entry.opaque) {
      if (below?.type === 'd') {
        // Merged with the directory below; one below that was opaque still hides the image's.
        merged.set(key, { ...entry, opaque: below.opaque });
        continue;
      }
      // Over a file or whiteout: nothing of the layers below shows through it.
      merged.set(key, below === undefined ? entry : { ...entry, opaque: true });
      continue;
    }
    if (below?.type === 'd') removeBelow(merged, key);
    merged.set(key, entry);
  }
}

/** Drops everything under `path` (a directory replaced by a file, a whiteout or an opaque one). */
function removeBelow(merged: Map<string, MergedEntry>, path: string): void {
  const prefix = `${path}/`;
  for (const key of merged.keys()) if (key.startsWith(prefix)) merged.delete(key);
}
