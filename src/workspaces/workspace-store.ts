import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IdMapping } from '../config/id-mapping.ts';
import { uniqueSuffix } from '../config/unique-suffix.ts';
import { ConflictError, NotFoundError } from '../errors/mags-error.ts';
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
import { WorkspaceForks } from './workspace-fork.ts';
import { WorkspaceHasForksError } from './workspace-fork-errors.ts';
import type {
  OpenWorkspace,
  WorkspaceInfo,
  WorkspaceLocation,
  WorkspacePaths,
} from './workspace-info.ts';
import { giveToSandboxRoot, layersLockPath } from './workspace-layers.ts';
import { acquireLock } from './workspace-lock.ts';
import { validateWorkspaceName } from './workspace-name.ts';

export type {
  OpenWorkspace,
  WorkspaceInfo,
  WorkspaceLocation,
  WorkspacePaths,
} from './workspace-info.ts';

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
  readonly #forks: WorkspaceForks;
  /** Told the storage name of each workspace made, changed (a run's end, a sync) or deleted. */
  readonly #listeners = new Set<(name: string) => void>();

  constructor(options: { home: string; idMapping: IdMapping; defaultDiskMiB?: number }) {
    this.#root = join(options.home, 'workspaces');
    this.idMapping = options.idMapping;
    this.defaultDiskMiB = options.defaultDiskMiB ?? defaultDiskMiB;
    this.#forks = new WorkspaceForks({
      get: (name) => this.get(name),
      require: (name) => this.require(name),
      update: (name, patch) => this.update(name, patch),
      open: (name) => this.open(name),
      lockPath: (name) => this.paths(name).lockPath,
      mountedLayers: async (name, info) => {
        const paths = this.#layerPaths(name, info);
        if (info.diskMiB !== undefined) await this.#mount(paths);
        return paths;
      },
      create: (name, image, diskMiB, extra) => this.#create(name, image, diskMiB, extra),
      names: () => this.#names(),
      rootHostId: () => this.idMapping.toHost(0),
      busyError: workspaceBusyError,
    });
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
    return { ...paths, info, ...(await this.#forks.chain(name, info, paths)) };
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

  /**
   * Makes a new workspace's directory, disk (of `size`; none when undefined: a fork of a workspace
   * without one) and empty layers, then records it (last).
   */
  async #create(
    name: string,
    image: string,
    size: number | undefined,
    extra: Pick<WorkspaceInfo, 'lowerLayers' | 'forkedFrom'>,
  ): Promise<WorkspacePaths> {
    const paths = this.#layerPaths(name, { diskMiB: size });
    // 0711: the sandbox's host uid walks through to the layers, but cannot list anything here.
    await mkdir(paths.layerDirectory, { recursive: true, mode: 0o711 });
    await chmod(this.#root, 0o711);
    await chmod(paths.directory, 0o711);
    if (size !== undefined) {
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
    }
    for (const directory of [paths.upperDir, paths.workDir]) {
      await mkdir(directory, { recursive: true, mode: 0o755 });
      await giveToSandboxRoot(directory, this.idMapping.toHost(0));
    }
    const info: WorkspaceInfo = {
      name,
      image,
      createdAt: new Date().toISOString(),
      lastRunAt: undefined,
      ...(size === undefined ? {} : { diskMiB: size }),
      ...extra,
    };
    await writeJsonAtomically(join(paths.directory, 'workspace.json'), info);
    this.changed(name);
    return paths;
  }

  /** Calls `listener` with a workspace's storage name each time one is made, changed or deleted. */
  onChange(listener: (name: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Tells the listeners that the workspace changed: the manager's delete, once its record and
   * stored versions went too (a listener that reads the list then finds it gone).
   */
  changed(name: string): void {
    for (const listener of [...this.#listeners]) listener(name);
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
    this.changed(name);
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
  forksOf(name: string): Promise<string[]> {
    return this.#forks.forksOf(name);
  }

  async #names(): Promise<string[]> {
    const names = await readdir(this.#root).catch(() => [] as string[]);
    return names.filter((name) => !name.startsWith('.')).sort();
  }
  /** A new workspace `target` that starts as a copy of `source` (`WorkspaceForks.fork`). */
  fork(source: string, target: string): Promise<WorkspaceInfo> {
    return this.#forks.fork(source, target);
  }

  /** Removes the workspace's frozen layers no chain refers to any more (`WorkspaceForks`). */
  pruneLayers(name: string): Promise<number> {
    return this.#forks.pruneLayers(name);
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
