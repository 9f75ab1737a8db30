import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IdMapping } from '../config/id-mapping.ts';
import { uniqueSuffix } from '../config/unique-suffix.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors/mags-error.ts';
import { isMountPoint, layerUsage } from './layer-usage.ts';
import {
  createDisk,
  type DiskUsage,
  diskFiles,
  diskTooSmallError,
  diskUsage,
  ensureSharedMount,
  growDisk,
  mountDisk,
  unmountDisk,
} from './workspace-disk.ts';
import {
  chainBrokenError,
  forkBusyError,
  WorkspaceHasForksError,
  workspaceExistsError,
} from './workspace-fork-errors.ts';
import {
  type FrozenLayer,
  freezeUpper,
  frozenLayersDirectory,
  isEmptyLayer,
  layersLockPath,
  maxChainLength,
  pruneFrozenLayers,
} from './workspace-layers.ts';
import { acquireLock } from './workspace-lock.ts';
import { validateWorkspaceName } from './workspace-name.ts';

export interface WorkspaceInfo {
  name: string;
  image: string;
  createdAt: string;
  lastRunAt: string | undefined;
  /** The stored version this host's layer was restored from or last synced as. */
  remoteVersion?: number;
  /**
   * The size of the workspace's disk (its layer's filesystem). Absent for workspaces made before
   * disks existed: their layer is a plain directory on the host's disk, without a limit.
   */
  diskMiB?: number;
  /**
   * Read-only layers below the workspace's own upper layer, the top-most first: its own layers
   * frozen by forks, then those of the workspace it was forked from. Absent: none.
   */
  lowerLayers?: FrozenLayer[];
  /** The workspace this one was forked from (storage name). */
  forkedFrom?: string;
}

export interface WorkspaceLocation {
  directory: string;
  /** Held exclusively by the one sandbox writing the workspace, shared by read-only users. */
  lockPath: string;
}

export interface WorkspacePaths extends WorkspaceLocation {
  /** Where the layers live: the disk's mount point (or, without a disk, the directory itself). */
  layerDirectory: string;
  /** The overlay upper directory: everything the sandbox wrote. */
  upperDir: string;
  workDir: string;
}

/** An opened workspace: its own layers, and the read-only chain below them. */
export interface OpenWorkspace extends WorkspacePaths {
  info: WorkspaceInfo;
  /**
   * Read-only layers below `upperDir`, the top-most first: a fork's chain of frozen layers (its
   * own, then its sources'), each source's disk mounted. Empty for a workspace that is not a fork.
   */
  lowerDirs: string[];
  /** The same, each with a key naming the layer (`workspace/layer`), stable while it exists. */
  chain: Array<{ directory: string; key: string }>;
  /** Held shared by a sandbox reading the chain: the source workspaces cannot go meanwhile. */
  layerLockPaths: string[];
}

export type WorkspaceListEntry = WorkspaceInfo & {
  /** Bytes the layer uses (`layerUsage`), or null when they could not be read. */
  sizeBytes: number | null;
  /** The disk's size, or null for a workspace without one (no limit). */
  diskBytes: number | null;
};

/** The default size of a new workspace's disk (`--disk`), unless the host sets another. */
export const defaultDiskMiB = 10 * 1024;

/**
 * Named workspaces on local disk, under `${home}/workspaces/NAME/`: `disk.ext4` (the workspace's
 * disk, mounted on `layer/`, which holds the overlay's `upper/` and `work/`), `lock`, and
 * `workspace.json`. Workspaces made before disks existed keep `upper/` and `work/` directly in
 * the directory, without a limit.
 */
export class WorkspaceStore {
  readonly #root: string;
  /** How the runtime maps sandbox ids: a new layer belongs to the sandbox's root. */
  readonly idMapping: IdMapping;
  readonly defaultDiskMiB: number;

  constructor(options: { home: string; idMapping: IdMapping; defaultDiskMiB?: number }) {
    this.#root = join(options.home, 'workspaces');
    this.idMapping = options.idMapping;
    this.defaultDiskMiB = options.defaultDiskMiB ?? defaultDiskMiB;
  }

  paths(name: string): WorkspaceLocation {
    const directory = join(this.#root, validateWorkspaceName(name));
    return { directory, lockPath: join(directory, 'lock') };
  }

  /** Where the layers of a workspace are; with a disk, only once it is mounted (`open`). */
  #layerPaths(name: string, info: Pick<WorkspaceInfo, 'diskMiB'>): WorkspacePaths {
    const location = this.paths(name);
    const layerDirectory =
      info.diskMiB === undefined ? location.directory : diskFiles(location.directory).mountPoint;
    return {
      ...location,
      layerDirectory,
      upperDir: join(layerDirectory, 'upper'),
      workDir: join(layerDirectory, 'work'),
    };
  }

  async get(name: string): Promise<WorkspaceInfo | undefined> {
    const paths = this.paths(name);
    const text = await readFile(join(paths.directory, 'workspace.json'), 'utf8').catch(
      () => undefined,
    );
    return text === undefined ? undefined : (JSON.parse(text) as WorkspaceInfo);
  }

  async require(name: string): Promise<WorkspaceInfo> {
    const info = await this.get(name);
    if (!info) {
      throw new NotFoundError(`Workspace ${JSON.stringify(name)} does not exist.`, {
        workspace: name,
        hint: `Create it with: mags run -w ${name} '...'  (list them with: mags workspace list)`,
      });
    }
    return info;
  }

  /**
   * The layers of an existing workspace, its disk mounted (disks stay mounted on the host once
   * used: mounting again after a reboot costs ~10 ms, keeping it mounted costs nothing).
   */
  async open(name: string): Promise<OpenWorkspace> {
    const info = await this.require(name);
    const paths = this.#layerPaths(name, info);
    if (info.diskMiB !== undefined) await this.#mount(paths);
    return { ...paths, info, ...(await this.#chain(name, info, paths)) };
  }

  /** The directories of a workspace's chain, each source's disk mounted, and their locks. */
  async #chain(name: string, info: WorkspaceInfo, own: WorkspacePaths) {
    const chain: Array<{ directory: string; key: string }> = [];
    const sources = new Map<string, WorkspacePaths>([[name, own]]);
    for (const { workspace, layer } of info.lowerLayers ?? []) {
      let source = sources.get(workspace);
      if (!source) {
        const sourceInfo = await this.get(workspace);
        if (!sourceInfo) throw chainBrokenError(name, workspace);
        source = this.#layerPaths(workspace, sourceInfo);
        if (sourceInfo.diskMiB !== undefined) await this.#mount(source);
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

  /** Makes disks mounted from now on appear in sandboxes prepared before (a server's pool). */
  async prepareMounts(): Promise<void> {
    await mkdir(this.#root, { recursive: true, mode: 0o711 });
    await ensureSharedMount(this.#root, join(this.#root, '.mount.lock'));
  }

  async #mount(paths: WorkspacePaths): Promise<void> {
    // The common case, a disk already mounted, costs two stat calls instead of two processes.
    if (await isMountPoint(paths.layerDirectory, paths.directory)) return;
    await this.prepareMounts();
    const { imagePath, mountLockPath } = diskFiles(paths.directory);
    await mountDisk(imagePath, paths.layerDirectory, mountLockPath);
  }

  /**
   * Creates the workspace on first use, with a disk of `diskMiB` (default: the host's default);
   * its layers belong to the sandbox's root user. An existing workspace's disk grows to a larger
   * `diskMiB`; a smaller one is refused.
   */
  async ensure(name: string, image: string, diskMiB?: number): Promise<OpenWorkspace> {
    const existing = await this.get(name);
    if (existing) {
      const current = existing.diskMiB;
      if (diskMiB === undefined || current === undefined || diskMiB === current) {
        return this.open(name);
      }
      if (diskMiB < current) throw diskTooSmallError(name, current, diskMiB);
      await this.#grow(name, diskMiB);
      return this.open(name);
    }
    await this.#create(name, image, diskMiB ?? this.defaultDiskMiB, {});
    return this.open(name);
  }

  /** Makes a new workspace's directory, disk and empty layers, then records it (last). */
  async #create(
    name: string,
    image: string,
    size: number,
    extra: Pick<WorkspaceInfo, 'lowerLayers' | 'forkedFrom'>,
  ): Promise<WorkspacePaths> {
    const paths = this.#layerPaths(name, { diskMiB: size });
    // 0711: the sandbox's host uid walks through to the layers, but cannot list anything here.
    await mkdir(paths.layerDirectory, { recursive: true, mode: 0o711 });
    await chmod(this.#root, 0o711);
    await chmod(paths.directory, 0o711);
    const { imagePath } = diskFiles(paths.directory);
    if (!existsSync(imagePath)) {
      // Made under another name and renamed: a crash never leaves half a filesystem behind.
      const partial = `${imagePath}.${uniqueSuffix()}`;
      try {
        await createDisk(partial, size, this.idMapping.toHost(0));
        await rename(partial, imagePath);
      } finally {
        await rm(partial, { force: true });
      }
    }
    await this.#mount(paths);
    for (const directory of [paths.upperDir, paths.workDir]) {
      await mkdir(directory, { recursive: true, mode: 0o755 });
      await chown(directory, this.idMapping.toHost(0), this.idMapping.toHost(0));
    }
    const info: WorkspaceInfo = {
      name,
      image,
      createdAt: new Date().toISOString(),
      lastRunAt: undefined,
      diskMiB: size,
      ...extra,
    };
    await writeJsonAtomically(join(paths.directory, 'workspace.json'), info);
    return paths;
  }

  /** Grows a disk while no sandbox uses it (the lock a writer or reader holds is free). */
  async #grow(name: string, diskMiB: number): Promise<void> {
    const paths = this.#layerPaths(name, { diskMiB });
    const busy = () => workspaceBusyError(name);
    const lock = await acquireLock(paths.lockPath, 'exclusive', busy);
    // Forks read frozen layers on this disk: it is not unmounted under them.
    const readers = await acquireLock(layersLockPath(paths.directory), 'exclusive', busy).catch(
      async (error: unknown) => {
        await lock.release();
        throw error;
      },
    );
    try {
      const { imagePath, mountLockPath } = diskFiles(paths.directory);
      await growDisk(imagePath, paths.layerDirectory, mountLockPath, diskMiB, busy);
      await this.update(name, { diskMiB });
    } finally {
      await readers.release();
      await lock.release();
    }
  }

  async markRun(name: string): Promise<void> {
    await this.update(name, { lastRunAt: new Date().toISOString() });
  }

  async update(name: string, patch: Partial<Omit<WorkspaceInfo, 'name'>>): Promise<void> {
    const info = await this.get(name);
    if (!info) return;
    await writeJsonAtomically(join(this.paths(name).directory, 'workspace.json'), {
      ...info,
      ...patch,
    });
  }

  /** Use and size of a workspace's disk (and the `--disk` it was given), or undefined without one. */
  async diskUsage(name: string): Promise<(DiskUsage & { diskMiB: number }) | undefined> {
    const paths = await this.open(name);
    const { diskMiB } = paths.info;
    if (diskMiB === undefined) return undefined;
    return { ...(await diskUsage(paths.layerDirectory)), diskMiB };
  }

  /**
   * The workspaces on this host (those `include` accepts: a server lists one owner's), with their
   * use. Read-only: nothing is mounted (`layerUsage`). One that vanishes meanwhile (deleted by
   * another request) is left out; one whose use cannot be read is listed with `sizeBytes` null.
   */
  async list(include: (name: string) => boolean = () => true): Promise<WorkspaceListEntry[]> {
    const result: WorkspaceListEntry[] = [];
    for (const name of await this.#names()) {
      if (!include(name)) continue;
      const info = await this.get(name).catch(() => undefined);
      if (!info) continue;
      const hasDisk = info.diskMiB !== undefined;
      const sizeBytes = await layerUsage(this.paths(name).directory, hasDisk).catch(() => null);
      if (sizeBytes === null && !(await this.get(name).catch(() => undefined))) continue;
      result.push({
        ...info,
        sizeBytes,
        diskBytes: hasDisk ? (info.diskMiB as number) * 1024 * 1024 : null,
      });
    }
    return result;
  }

  /**
   * Deletes a workspace that no sandbox is using and no fork builds on (their names are in the
   * error). The directory is renamed away while the workspace's lock and its layers' lock are held
   * (the locks the sandbox launcher takes), then its disk unmounted and removed, so a run starting
   * at the same moment either sees the whole workspace or none of it.
   */
  async delete(name: string): Promise<void> {
    const paths = this.paths(name);
    const info = await this.require(name);
    const trash = join(this.#root, `.deleted-${name}-${uniqueSuffix()}`);
    const busy = () => workspaceBusyError(name);
    const lock = await acquireLock(paths.lockPath, 'exclusive', busy);
    try {
      // Under the lock: a fork of this workspace takes it too, so none appears meanwhile.
      const forks = await this.forksOf(name);
      if (forks.length > 0) throw new WorkspaceHasForksError(name, forks);
      const readers = await acquireLock(layersLockPath(paths.directory), 'exclusive', busy);
      try {
        await rename(paths.directory, trash);
      } finally {
        await readers.release();
      }
    } finally {
      await lock.release();
    }
    // Never remove files through a mounted disk: unmount first (the image then goes whole).
    await unmountDisk(diskFiles(trash).mountPoint);
    await rm(trash, { recursive: true, force: true });
    for (const source of new Set((info.lowerLayers ?? []).map((layer) => layer.workspace))) {
      if (source !== name) await this.pruneLayers(source);
    }
  }

  /** The workspaces whose chain holds a layer of `name` (forks, forks of forks), sorted. */
  async forksOf(name: string): Promise<string[]> {
    const forks: string[] = [];
    for (const other of await this.#names()) {
      if (other === name) continue;
      const info = await this.get(other).catch(() => undefined);
      if (info?.lowerLayers?.some((layer) => layer.workspace === name)) forks.push(other);
    }
    return forks;
  }

  async #names(): Promise<string[]> {
    const names = await readdir(this.#root).catch(() => [] as string[]);
    return names.filter((name) => !name.startsWith('.')).sort();
  }

  /**
   * A new workspace `target` that starts as a copy of `source`, in O(1): the source's upper layer
   * is frozen into a read-only layer on its own disk (a rename), the source goes on writing to a
   * fresh upper above it, and the fork gets a disk of its own (the source's size) whose upper
   * sits above the same chain. Later writes of either never reach the other. The source must be
   * idle: no sandbox may have its upper mounted while it moves.
   */
  async fork(source: string, target: string): Promise<WorkspaceInfo> {
    validateWorkspaceName(target);
    if (source === target) {
      throw new InvalidInputError(`A workspace cannot be forked onto itself (${source}).`, {
        workspace: source,
        hint: `Name the fork differently: mags workspace fork ${source} ${source}-2`,
      });
    }
    const sourceInfo = await this.require(source);
    if (await this.get(target)) throw workspaceExistsError(target);
    if ((sourceInfo.lowerLayers?.length ?? 0) >= maxChainLength) {
      throw new ConflictError(
        `Workspace ${JSON.stringify(source)} already sits on ${maxChainLength} frozen layers (forks of forks); a fork would exceed what a sandbox can mount.`,
        {
          workspace: source,
          code: 'fork_chain_too_long',
          hint: `Flatten it first: sync it (mags sync ${source}), delete the local copy (mags workspace delete ${source} --local-only) and pull it back (mags workspace pull ${source}).`,
        },
      );
    }
    const lock = await acquireLock(this.paths(source).lockPath, 'exclusive', () =>
      forkBusyError(source),
    );
    try {
      const paths = await this.open(source);
      let chain = paths.info.lowerLayers ?? [];
      if (!(await isEmptyLayer(paths.upperDir))) {
        const layer = uniqueSuffix();
        chain = [{ workspace: source, layer }, ...chain];
        // Recorded first: a crash before the rename leaves a layer `open` skips, never a lost one.
        await this.update(source, { lowerLayers: chain });
        await freezeUpper(paths, layer, this.idMapping.toHost(0));
      }
      if (await this.get(target)) throw workspaceExistsError(target);
      await this.#create(target, paths.info.image, paths.info.diskMiB ?? this.defaultDiskMiB, {
        lowerLayers: chain,
        forkedFrom: source,
      });
      return this.require(target);
    } finally {
      await lock.release();
    }
  }

  /**
   * Removes the workspace's frozen layers no chain refers to any more (a fork deleted, the
   * workspace itself pulled back as one layer). Skipped while the workspace is in use or being
   * forked: its lock keeps a fork from adding a layer between the check and the removal.
   */
  async pruneLayers(name: string): Promise<number> {
    const info = await this.get(name);
    if (!info) return 0;
    const lock = await acquireLock(this.paths(name).lockPath, 'exclusive', () =>
      workspaceBusyError(name),
    ).catch(() => undefined);
    if (!lock) return 0;
    try {
      const referenced = new Set<string>();
      for (const other of await this.#names()) {
        const chain = (await this.get(other).catch(() => undefined))?.lowerLayers ?? [];
        for (const layer of chain) if (layer.workspace === name) referenced.add(layer.layer);
      }
      const paths = this.#layerPaths(name, info);
      if (info.diskMiB !== undefined) await this.#mount(paths);
      return await pruneFrozenLayers(paths.layerDirectory, referenced);
    } finally {
      await lock.release();
    }
  }
}

export function workspaceBusyError(name: string): ConflictError {
  return new ConflictError(`Workspace ${JSON.stringify(name)} is in use by another run.`, {
    workspace: name,
    hint: `Wait for that run to finish (or stop the sandbox using it), or run read-only on top of it: mags run --base ${name} '...'. A mags server on this host also keeps a workspace's sandbox parked for a few minutes after a run; runs through that server take it over.`,
  });
}

async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, path);
}
