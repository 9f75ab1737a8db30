import { execFile } from 'node:child_process';
import { lstat, rename, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { uniqueSuffix } from '../config/unique-suffix.ts';
import { applyMarkers, marker } from './sync/layer-markers.ts';
import { scanLayer } from './sync/layer-scan.ts';

const execFileAsync = promisify(execFile);

/**
 * Makes `target` one frozen layer that shows what `layers` (frozen layers on one filesystem,
 * the top-most first) show stacked, with overlayfs's rules: over whatever lies below, a sandbox
 * sees the same through `target` as through the stack. Files are hard links (`cp -al`: the
 * layers never change again, so they can share inodes), directories are new (their mode, owner,
 * times and xattrs copied), so it costs a few operations per entry and no data. Built under
 * another name and renamed: a crash leaves a directory no chain names, which pruning removes.
 *
 * Per layer above the bottom one, before its entries are linked in: a whiteout, a file or an
 * opaque directory replaces whatever the layers below have at its path (a directory whole); a
 * directory over a file or whiteout of the layers below becomes opaque, so that nothing of the
 * layers below the merged stack shows through it either (as `scanWorkspaceLayers` merges them).
 */
export async function mergeFrozenLayers(layers: string[], target: string): Promise<void> {
  const [bottom, ...above] = [...layers].reverse();
  if (bottom === undefined) throw new Error('mergeFrozenLayers: no layers to merge');
  const staging = `${target}.merging-${uniqueSuffix()}`;
  try {
    await execFileAsync('cp', ['-al', '--', bottom, staging]);
    for (const layer of above) {
      const opaque: Buffer[] = [];
      for (const entry of await scanLayer(layer)) {
        const path = Buffer.concat([Buffer.from(`${staging}/`), entry.path]);
        const below = await lstat(path).catch(() => undefined);
        if (below === undefined) continue;
        if (entry.type === 'd' && !entry.opaque) {
          if (below.isDirectory()) continue; // merged with it; its opaque mark, if any, stays
          opaque.push(path);
        }
        await rm(path, { recursive: true, force: true });
      }
      await execFileAsync('cp', ['-al', '--remove-destination', '--', `${layer}/.`, `${staging}/`]);
      // The overlay's opaque mark (`user.overlay.opaque`, as sandboxes' overlays write it).
      if (opaque.length > 0) {
        await applyMarkers(Buffer.concat(opaque.map((directory) => marker('o', directory))));
      }
    }
    await rename(staging, target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
