import { execFile } from 'node:child_process';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniqueSuffix } from '../config/unique-suffix.ts';
import { ConflictError, NotFoundError } from '../errors/mags-error.ts';
import { validateWorkspaceName } from './workspace-name.ts';

const execFileAsync = promisify(execFile);

export interface WorkspaceInfo {
  name: string;
  image: string;
  createdAt: string;
  lastRunAt: string | undefined;
  /** The stored version this host's layer was restored from or last synced as. */
  remoteVersion?: number;
}

export interface WorkspacePaths {
  directory: string;
  /** The overlay upper directory: everything the sandbox wrote. */
  upperDir: string;
  workDir: string;
  /** Held exclusively by the one sandbox writing the workspace, shared by read-only users. */
  lockPath: string;
}

/** Exit status `flock -E` returns when the lock is held: the launcher uses the same number. */
const busyExitCode = 75;

/**
 * Named workspaces on local disk, under `${home}/workspaces/NAME/`:
 * `upper/` and `work/` (the overlay layers), `lock`, and `workspace.json`.
 */
export class WorkspaceStore {
  readonly #root: string;
  readonly #uidBase: number;

  constructor(options: { home: string; uidBase: number }) {
    this.#root = join(options.home, 'workspaces');
    this.#uidBase = options.uidBase;
  }

  paths(name: string): WorkspacePaths {
    const directory = join(this.#root, validateWorkspaceName(name));
    return {
      directory,
      upperDir: join(directory, 'upper'),
      workDir: join(directory, 'work'),
      lockPath: join(directory, 'lock'),
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

  /** Creates the workspace on first use; its layers belong to the sandbox's root user. */
  async ensure(name: string, image: string): Promise<WorkspacePaths> {
    const paths = this.paths(name);
    if (await this.get(name)) return paths;
    // 0711: the sandbox's host uid walks through to the layers, but cannot list anything here.
    await mkdir(paths.directory, { recursive: true, mode: 0o711 });
    await chmod(this.#root, 0o711);
    await chmod(paths.directory, 0o711);
    for (const directory of [paths.upperDir, paths.workDir]) {
      await mkdir(directory, { recursive: true, mode: 0o755 });
      await chown(directory, this.#uidBase, this.#uidBase);
    }
    const info: WorkspaceInfo = {
      name,
      image,
      createdAt: new Date().toISOString(),
      lastRunAt: undefined,
    };
    await writeJsonAtomically(join(paths.directory, 'workspace.json'), info);
    return paths;
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

  async list(): Promise<Array<WorkspaceInfo & { sizeBytes: number }>> {
    const names = await readdir(this.#root).catch(() => [] as string[]);
    const result: Array<WorkspaceInfo & { sizeBytes: number }> = [];
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      const info = await this.get(name).catch(() => undefined);
      if (!info) continue;
      result.push({ ...info, sizeBytes: await directorySize(this.paths(name).upperDir) });
    }
    return result;
  }

  /**
   * Deletes a workspace that no sandbox is using. The directory is renamed away while the lock is
   * held (util-linux `flock`, the same lock the sandbox launcher takes), then removed, so a run
   * starting at the same moment either sees the whole workspace or none of it.
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

/** Bytes used by a layer (apparent sizes; hard links counted once). */
async function directorySize(root: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  // Buffer paths: names in a layer are bytes and need not be UTF-8 (a decoded name may not exist).
  const pending = [Buffer.from(root)];
  const slash = Buffer.from('/');
  while (pending.length > 0) {
    const directory = pending.pop() as Buffer;
    const entries = await readdir(directory, { withFileTypes: true, encoding: 'buffer' }).catch(
      () => [],
    );
    for (const entry of entries) {
      const path = Buffer.concat([directory, slash, entry.name]);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile()) {
        const stats = await lstat(path);
        const key = `${stats.dev}:${stats.ino}`;
        if (stats.nlink > 1 && seen.has(key)) continue;
        seen.add(key);
        total += stats.size;
      }
    }
  }
  return total;
}
