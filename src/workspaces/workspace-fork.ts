import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueSuffix } from '../config/unique-suffix.ts';
import { type ConflictError, InvalidInputError } from '../errors/mags-error.ts';
import { mergeFrozenLayers } from './merge-frozen-layers.ts';
import {
  chainBrokenError,
  ForkChainTooLongError,
  forkBusyError,
  workspaceExistsError,
} from './workspace-fork-errors.ts';
import type { OpenChain, OpenWorkspace, WorkspaceInfo, WorkspacePaths } from './workspace-info.ts';
import {
  type FrozenLayer,
  freezeUpper,
  frozenLayersDirectory,
  isEmptyLayer,
  layersLockPath,
  maxChainLength,
  maxOwnLayers,
  pruneFrozenLayers,
} from './workspace-layers.ts';
import { acquireLock } from './workspace-lock.ts';
import { validateWorkspaceName } from './workspace-name.ts';

/** What the fork logic needs of the store it belongs to (`WorkspaceStore` hands in its own). */
export interface ForkStoreParts {
  get(name: string): Promise<WorkspaceInfo | undefined>;
  require(name: string): Promise<WorkspaceInfo>;
  update(name: string, patch: Partial<Omit<WorkspaceInfo, 'name'>>): Promise<void>;
  open(name: string): Promise<OpenWorkspace>;
  lockPath(name: string): string;
  /** A workspace's layer paths, its disk mounted (if it has one). */
  mountedLayers(name: string, info: WorkspaceInfo): Promise<WorkspacePaths>;
  /** Makes a new workspace (a disk of `diskMiB`; none when undefined) and records it, last. */
  create(
    name: string,
    image: string,
    diskMiB: number | undefined,
    extra: Pick<WorkspaceInfo, 'lowerLayers' | 'forkedFrom'>,
  ): Promise<WorkspacePaths>;
  names(): Promise<string[]>;
  /** The host id of the sandbox's root: a fresh upper layer belongs to it. */
  rootHostId(): number;
  busyError(name: string): ConflictError;
}

/**
 * Forks and their chains of frozen layers (docs/design.md, "Fork"): `fork`, the chain a
 * workspace's sandboxes mount (`chain`), which workspaces build on one (`forksOf`), and removing
 * the frozen layers nothing refers to any more (`pruneLayers`).
 */
export class WorkspaceForks {
  readonly #store: ForkStoreParts;

  constructor(store: ForkStoreParts) {
    this.#store = store;
  }

  /** The directories of a workspace's chain, each source's disk mounted, and their locks. */
  async chain(name: string, info: WorkspaceInfo, own: WorkspacePaths): Promise<OpenChain> {
    const chain: OpenChain['chain'] = [];
    const sources = new Map<string, WorkspacePaths>([[name, own]]);
    for (const { workspace, layer } of info.lowerLayers ?? []) {
      let source = sources.get(workspace);
      if (!source) {
        const sourceInfo = await this.#store.get(workspace);
        if (!sourceInfo) throw chainBrokenError(name, workspace);
        source = await this.#store.mountedLayers(workspace, sourceInfo);
        sources.set(workspace, source);
      }
      const directory = join(frozenLayersDirectory(source.layerDirectory), layer);
      if (!existsSync(directory)) {
        // An own layer recorded by a fork that stopped before its rename: the upper still holds it.
        if (workspace === name) continue;
        throw chainBrokenError(name, workspace);
      }
      chain.push({ directory, key: `${workspace}/${layer}` });
    }
    const layerLockPaths = (info.lowerLayers ?? []).length === 0 ? [] : [...sources.values()];
    return {
      chain,
      lowerDirs: chain.map((layer) => layer.directory),
      layerLockPaths: layerLockPaths.map((paths) => layersLockPath(paths.directory)),
    };
  }

  /**
   * A new workspace `target` that starts as a copy of `source`, in O(1): the source's upper layer
   * is frozen into a read-only layer on its own disk (a rename), the source goes on writing to a
   * fresh upper above it, and the fork gets a disk of its own (the source's size; none when the
   * source has none) whose upper sits above the same chain. Later writes of either never reach
   * the other. The source must be idle: no sandbox may have its upper mounted while it moves.
   *
   * Each fork of a changed source freezes one more layer under the source itself: once it has
   * more than `maxOwnLayers` of its own, they are merged into one (`mergeFrozenLayers`: hard
   * links, no data copied), so forking one source again and again keeps every chain short. A
   * chain of forks of forks too long to mount even then is refused (`ForkChainTooLongError`).
   */
  async fork(source: string, target: string): Promise<WorkspaceInfo> {
    validateWorkspaceName(target);
    if (source === target) {
      throw new InvalidInputError(`A workspace cannot be forked onto itself (${source}).`, {
        workspace: source,
        hint: `Name the fork differently: mags workspace fork ${source} ${source}-2`,
      });
    }
    await this.#store.require(source);
    if (await this.#store.get(target)) throw workspaceExistsError(target);
    const lock = await acquireLock(this.#store.lockPath(source), 'exclusive', () =>
      forkBusyError(source),
    );
    try {
      const paths = await this.#store.open(source);
      let chain = paths.info.lowerLayers ?? [];
      const freezes = !(await isEmptyLayer(paths.upperDir));
      const own = ownLayerCount(source, chain) + (freezes ? 1 : 0);
      const length = chain.length + (freezes ? 1 : 0);
      // Merging the source's own layers into one is the only shortening there is (the others
      // lie on other disks): refused before anything changes when even that is not enough.
      const shortest = length - Math.max(own - 1, 0);
      if (shortest > maxChainLength) {
        throw new ForkChainTooLongError(source, shortest);
      }
      if (freezes) {
        const layer = uniqueSuffix();
        chain = [{ workspace: source, layer }, ...chain];
        // Recorded first: a crash before the rename leaves a layer `open` skips, never a lost one.
        await this.#store.update(source, { lowerLayers: chain });
        await freezeUpper(paths, layer, this.#store.rootHostId());
      }
      const compacts = own > 1 && (own > maxOwnLayers || length > maxChainLength);
      if (compacts) chain = await this.#mergeOwnLayers(source, paths, chain, own);
      if (await this.#store.get(target)) throw workspaceExistsError(target);
      await this.#store.create(target, paths.info.image, paths.info.diskMiB, {
        lowerLayers: chain,
        forkedFrom: source,
      });
      // The layers just merged stay only while earlier forks build on them.
      if (compacts) await this.#prune(source, paths);
      return this.#store.require(target);
    } finally {
      await lock.release();
    }
  }

  /**
   * Replaces the top `own` layers of the source's chain (its own frozen layers) with one merged
   * layer on its disk, and records the shorter chain. The old layers stay for the forks that
   * name them. Under the source's lock.
   */
  async #mergeOwnLayers(
    source: string,
    paths: WorkspacePaths,
    chain: FrozenLayer[],
    own: number,
  ): Promise<FrozenLayer[]> {
    const layers = frozenLayersDirectory(paths.layerDirectory);
    const directories = chain
      .slice(0, own)
      .map((frozen) => join(layers, frozen.layer))
      .filter((directory) => existsSync(directory)); // see `chain`: one a crash left unmade
    const layer = uniqueSuffix();
    await mergeFrozenLayers(directories, join(layers, layer));
    const merged = [{ workspace: source, layer }, ...chain.slice(own)];
    await this.#store.update(source, { lowerLayers: merged });
    return merged;
  }

  /** The workspaces whose chain holds a layer of `name` (forks, forks of forks), sorted. */
  async forksOf(name: string): Promise<string[]> {
    const forks: string[] = [];
    for (const other of await this.#store.names()) {
      if (other === name) continue;
      const info = await this.#store.get(other).catch(() => undefined);
      if (info?.lowerLayers?.some((layer) => layer.workspace === name)) forks.push(other);
    }
    return forks;
  }

  /**
   * Removes the workspace's frozen layers no chain refers to any more (a fork deleted, the
   * workspace itself pulled back as one layer). Skipped while the workspace is in use or being
   * forked: its lock keeps a fork from adding a layer between the check and the removal.
   */
  async pruneLayers(name: string): Promise<number> {
    const info = await this.#store.get(name);
    if (!info) return 0;
    const lock = await acquireLock(this.#store.lockPath(name), 'exclusive', () =>
      this.#store.busyError(name),
    ).catch(() => undefined);
    if (!lock) return 0;
    try {
      return await this.#prune(name, await this.#store.mountedLayers(name, info));
    } finally {
      await lock.release();
    }
  }

  /** `pruneLayers` for a caller holding the workspace's lock. */
  async #prune(name: string, paths: WorkspacePaths): Promise<number> {
    const referenced = new Set<string>();
    for (const other of await this.#store.names()) {
      const chain = (await this.#store.get(other).catch(() => undefined))?.lowerLayers ?? [];
      for (const layer of chain) if (layer.workspace === name) referenced.add(layer.layer);
    }
    return pruneFrozenLayers(paths.layerDirectory, referenced);
  }
}

/** How many of the chain's top layers are the workspace's own (they always come first). */
function ownLayerCount(name: string, chain: FrozenLayer[]): number {
  const index = chain.findIndex((layer) => layer.workspace !== name);
  return index === -1 ? chain.length : index;
}
