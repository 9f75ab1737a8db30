import { chown, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A read-only layer of a workspace's lower chain: a former upper layer of `workspace`, frozen when
 * it was forked, kept on that workspace's own disk (`layers/ID`, beside `upper/`). Frozen layers
 * never change again: the workspace writes to a fresh upper above it, and forks read it as the
 * top of their own chain.
 */
export interface FrozenLayer {
  /** The storage name of the workspace on whose disk the layer lives. */
  workspace: string;
  layer: string;
}

/**
 * How many read-only layers a chain may have. The launcher takes at most 32 `--lower` options
 * (native/sandbox.c, MAX_LIST), of which the image, its defaults layer and a `--base` layer take
 * three; overlayfs itself allows 500. Past it a fork is refused with the way to flatten (sync, then pull).
 */
export const maxChainLength = 24;

/**
 * How many of its own frozen layers a workspace keeps in its chain: each fork of a changed source
 * freezes one more, and the fork that would keep more merges them into one (hard links on the
 * source's disk, `mergeFrozenLayers`). Low enough that forking one source again and again leaves
 * every chain short (a sandbox of it or of its forks mounts at most this many of its layers),
 * high enough that most forks stay a rename.
 */
export const maxOwnLayers = 4;

/** Where frozen layers live, in a workspace's layer directory (its disk's mount point). */
export function frozenLayersDirectory(layerDirectory: string): string {
  return join(layerDirectory, 'layers');
}

/** The lock a sandbox reading a workspace's frozen layers holds shared; delete takes it exclusive. */
export function layersLockPath(directory: string): string {
  return join(directory, 'layers.lock');
}

/** Whether a layer directory holds nothing (a fork of it then needs no new frozen layer). */
export async function isEmptyLayer(upperDir: string): Promise<boolean> {
  return (await readdir(upperDir).catch(() => [])).length === 0;
}

/**
 * Freezes `upperDir` as `layers/ID` and leaves a fresh, empty upper (and work) directory in its
 * place: one rename on the same filesystem, whatever the layer holds. The caller holds the
 * workspace's lock (no sandbox has the overlay mounted) and has recorded the new layer in the
 * workspace's chain first, so a crash in between leaves either the old upper or the frozen layer
 * in place, never neither (`WorkspaceStore.open` skips an own layer not yet frozen). The fresh
 * directories belong to `rootHostId`, the host id of the sandbox's root (the runtime's mapping).
 */
export async function freezeUpper(
  paths: { layerDirectory: string; upperDir: string; workDir: string },
  layer: string,
  rootHostId: number,
): Promise<void> {
  const layers = frozenLayersDirectory(paths.layerDirectory);
  await mkdir(layers, { recursive: true, mode: 0o711 });
  await rename(paths.upperDir, join(layers, layer));
  // The overlay's work directory belongs to the layer it was used with.
  await rm(paths.workDir, { recursive: true, force: true });
  for (const directory of [paths.upperDir, paths.workDir]) {
    await mkdir(directory, { mode: 0o755 });
    await giveToSandboxRoot(directory, rootHostId);
  }
}

/**
 * Gives a fresh layer directory to the sandbox's root (`rootHostId`). A store run without root
 * (the root-free tests' directory workspaces, whose sandboxes are plain processes of the same
 * user) cannot give files away, and keeps them.
 */
export async function giveToSandboxRoot(directory: string, rootHostId: number): Promise<void> {
  if (process.getuid?.() !== 0 && rootHostId !== process.getuid?.()) return;
  await chown(directory, rootHostId, rootHostId);
}

/** Removes a workspace's frozen layers that no chain refers to any more (after a pull, a delete). */
export async function pruneFrozenLayers(
  layerDirectory: string,
  referenced: Set<string>,
): Promise<number> {
  const layers = frozenLayersDirectory(layerDirectory);
  let removed = 0;
  for (const layer of await readdir(layers).catch(() => [] as string[])) {
    if (referenced.has(layer)) continue;
    await rm(join(layers, layer), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
