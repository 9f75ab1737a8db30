import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
import { acquireLock } from './workspace-lock.ts';
import { validateWorkspaceName } from './workspace-name.ts';

const execFileAsync = promisify(execFile);

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
  /**
   * Read-only layers below `upperDir`, the top-most first (a fork's chain of its sources'
   * snapshots); empty for a workspace that is not a fork.
   */
  lowerDirs: string[];
}

export type WorkspaceListEntry = WorkspaceInfo & {
  /** Bytes the layer uses (`layerUsage`), or null when they could not be read. */
  sizeBytes: number | null;
  /** The disk's size, or null for a workspace without one (no limit). */
  diskBytes: number | null;
};

/** Exit status `flock -E` returns when the lock is held: the launcher uses the same number. */
const busyExitCode = 75;

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
      lowerDirs: [],
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
  async open(name: string): Promise<WorkspacePaths & { info: WorkspaceInfo }> {
    const info = await this.require(name);
    const paths = this.#layerPaths(name, info);
    if (info.diskMiB !== undefined) await this.#mount(paths);
    return { ...paths, info };
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
  async ensure(name: string, image: string, diskMiB?: number): Promise<WorkspacePaths> {
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
    const size = diskMiB ?? this.defaultDiskMiB;
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
    };
    await writeJsonAtomically(join(paths.directory, 'workspace.json'), info);
    return paths;
  }

  /** Grows a disk while no sandbox uses it (the lock a writer or reader holds is free). */
  async #grow(name: string, diskMiB: number): Promise<void> {
    const paths = this.#layerPaths(name, { diskMiB });
    const busy = () => workspaceBusyError(name);
    const lock = await acquireLock(paths.lockPath, 'exclusive', busy);
    try {
      const { imagePath, mountLockPath } = diskFiles(paths.directory);
      await growDisk(imagePath, paths.layerDirectory, mountLockPath, diskMiB, busy);
      await this.update(name, { diskMiB });
    } finally {
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
    const names = await readdir(this.#root).catch(() => [] as string[]);
    const result: WorkspaceListEntry[] = [];
    for (const name of names.sort()) {
      if (name.startsWith('.') || !include(name)) continue;
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
   * Deletes a workspace that no sandbox is using. The directory is renamed away while the lock is
   * held (util-linux `flock`, the same lock the sandbox launcher takes), then its disk unmounted
   * and removed, so a run starting at the same moment either sees the whole workspace or none of
   * it.
   */
  async delete(name: string): Promise<void> {
    const paths = this.paths(name);
    await this.require(name);
    const trash = join(this.#root, `.deleted-${name}-${uniqueSuffix()}`);
    try {
      await execFileAsync('flock', [
        '--nonblock',
        '--conflict-exit-code',
        String(busyExitCode),
        paths.lockPath,
        'mv',
        '--no-target-directory',
        paths.directory,
        trash,
      ]);
    } catch (error) {
      if ((error as { code?: unknown }).code === busyExitCode) throw workspaceBusyError(name);
      throw error;
    }
    // Never remove files through a mounted disk: unmount first (the image then goes whole).
    await unmountDisk(diskFiles(trash).mountPoint);
    await rm(trash, { recursive: true, force: true });
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
