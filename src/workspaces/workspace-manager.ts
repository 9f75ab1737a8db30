import { NotFoundError } from '../errors/mags-error.ts';
import type { StateRepository } from '../state/state-repository.ts';
import {
  isValidOwner,
  localOwner,
  ownerWorkspaceDisplayName,
  ownerWorkspaceName,
  ownsStorageName,
} from './owner-workspace.ts';
import type { PushResult, SyncProgress } from './sync/push-workspace.ts';
import type { VersionInfo } from './sync/versions.ts';
import { WorkspaceHasForksError } from './workspace-fork-errors.ts';
import type { WorkspaceStore } from './workspace-store.ts';
import type { WorkspaceSync } from './workspace-sync.ts';

/** What a server's state records of workspaces (their owners and last use). */
export type WorkspaceRecords = Pick<
  StateRepository,
  'listWorkspaces' | 'deleteWorkspace' | 'listTokens'
>;

/** One workspace as its owner sees it: names in the owner's words. */
export interface WorkspaceSummary {
  name: string;
  /** The base image it was made on; null when only the state knows of it (not on this host). */
  image: string | null;
  createdAt: string;
  lastUsedAt: string;
  lastRunAt: string | null;
  /** Bytes its own layer uses; null when they could not be read (or it is not on this host). */
  sizeBytes: number | null;
  diskBytes: number | null;
  remoteVersion: number | null;
  /** The workspace it was forked from (null: not a fork, or the source is another owner's). */
  forkedFrom: string | null;
}

/** A workspace made, changed (a run's end, a sync, a fork of it) or deleted, in its owner's words. */
export interface WorkspaceChange {
  owner: string;
  name: string;
}

/**
 * Workspaces as owners know them: names (an owner's `app` is stored as `owner.app`), listing,
 * fork, delete, and the syncs to and from object storage. The one place the workspace routes and
 * the CLI's in-process commands go through. A parked sandbox holding a workspace (the warm cache,
 * a layer above this one) is dropped through `invalidate` before the workspace changes under it.
 */
export class WorkspaceManager {
  readonly store: WorkspaceStore;
  readonly sync: WorkspaceSync;
  readonly #invalidate: (storageName: string) => Promise<void>;
  readonly #records: WorkspaceRecords | undefined;

  constructor(options: {
    store: WorkspaceStore;
    sync: WorkspaceSync;
    /** Drops a parked sandbox of the workspace (by storage name), if there is one. */
    invalidate?: (storageName: string) => Promise<void>;
    records?: WorkspaceRecords;
  }) {
    this.store = options.store;
    this.sync = options.sync;
    this.#invalidate = options.invalidate ?? (async () => {});
    this.#records = options.records;
  }

  /** The same manager, also reading and updating a server's workspace records. */
  withRecords(records: WorkspaceRecords): WorkspaceManager {
    return new WorkspaceManager({
      store: this.store,
      sync: this.sync,
      invalidate: this.#invalidate,
      records,
    });
  }

  /**
   * Calls `listener` with the owner and name of each workspace made, changed or deleted on this
   * host (through this process); returns the unsubscribe. Another owner's `app` is stored as
   * `owner.app`, so the owner is known without a read.
   */
  onChange(listener: (change: WorkspaceChange) => void): () => void {
    return this.store.onChange((storageName) => listener(workspaceOwner(storageName)));
  }

  /**
   * The owner's workspaces: those on this host's disk (only theirs are read; the local owner, an
   * admin, sees the host's, minus those of owners with tokens) and those the state records.
   */
  async list(owner: string): Promise<WorkspaceSummary[]> {
    const records = (await this.#records?.listWorkspaces(owner)) ?? [];
    const mine = owner === localOwner ? undefined : (name: string) => ownsStorageName(owner, name);
    const onDisk = new Map((await this.store.list(mine)).map((info) => [info.name, info]));
    const byName = new Map(records.map((record) => [record.name, record]));
    const names = new Set(byName.keys());
    const owners = new Set(
      owner === localOwner
        ? ((await this.#records?.listTokens()) ?? []).map((token) => token.owner)
        : [],
    );
    for (const storageName of onDisk.keys()) {
      if (owner !== localOwner) {
        const own = ownerWorkspaceDisplayName(owner, storageName);
        if (own !== undefined) names.add(own);
        continue;
      }
      // The host's own workspaces include those the CLI made in-process, minus other owners'.
      const prefix = /^([a-z0-9-]+)\./.exec(storageName)?.[1];
      if (!prefix || !owners.has(prefix) || prefix === localOwner) names.add(storageName);
    }
    return [...names].sort().map((name) => {
      const record = byName.get(name);
      const disk = onDisk.get(ownerWorkspaceName(owner, name));
      const forkedFrom = disk?.forkedFrom && ownerWorkspaceDisplayName(owner, disk.forkedFrom);
      return {
        name,
        image: disk?.image ?? null,
        createdAt: record?.createdAt ?? disk?.createdAt ?? '',
        lastUsedAt: record?.lastUsedAt ?? disk?.lastRunAt ?? disk?.createdAt ?? '',
        lastRunAt: disk?.lastRunAt ?? null,
        sizeBytes: disk?.sizeBytes ?? null,
        diskBytes: disk?.diskBytes ?? null,
        remoteVersion: disk?.remoteVersion ?? null,
        forkedFrom: forkedFrom ?? null,
      };
    });
  }

  /**
   * Stored versions, oldest first; a workspace with neither versions nor a local copy is a 404
   * (unless `missingIsEmpty`: the CLI lists what the store holds under any name).
   */
  async versions(
    owner: string,
    name: string,
    options: { missingIsEmpty?: boolean } = {},
  ): Promise<VersionInfo[]> {
    const storageName = ownerWorkspaceName(owner, name);
    const stored = await this.sync.versions(storageName);
    if (stored.length > 0 || options.missingIsEmpty) return stored;
    if (!(await this.store.get(storageName))) throw notFound(name);
    return stored;
  }

  /** Syncs the local copy to object storage as a new version (none when nothing changed). */
  async push(
    owner: string,
    name: string,
    onProgress?: (progress: SyncProgress) => void,
  ): Promise<PushResult> {
    const storageName = ownerWorkspaceName(owner, name);
    if (!(await this.store.get(storageName))) throw notFound(name);
    return this.sync.push(storageName, onProgress);
  }

  /** Makes the local copy a stored version (default the latest), as one layer. */
  async pull(
    owner: string,
    name: string,
    options: Parameters<WorkspaceSync['pull']>[1],
  ): Promise<number> {
    const storageName = ownerWorkspaceName(owner, name);
    await this.#invalidate(storageName);
    return this.sync.pull(storageName, options);
  }

  /**
   * The disk a fork of the owner's `source` gets: the source's size. Undefined when the source
   * has no disk (its fork has none either) or does not exist (its fork is a 404).
   */
  async forkDiskMiB(owner: string, source: string): Promise<number | undefined> {
    return (await this.store.get(ownerWorkspaceName(owner, source)))?.diskMiB;
  }

  /**
   * A new workspace `target` of the owner's that starts as a copy of their `source`
   * (`WorkspaceStore.fork`). A parked sandbox of the source is dropped first; one running on it
   * makes this a 409.
   */
  async fork(owner: string, source: string, target: string): Promise<WorkspaceSummary> {
    const sourceName = ownerWorkspaceName(owner, source);
    const targetName = ownerWorkspaceName(owner, target);
    if (!(await this.store.get(sourceName))) throw notFound(source);
    await this.#invalidate(sourceName);
    await this.store.fork(sourceName, targetName);
    const forked = (await this.list(owner)).find((summary) => summary.name === target);
    if (!forked) throw notFound(target); // deleted by another request meanwhile
    return forked;
  }

  /**
   * Deletes the local copy (refused while in use, or while forks build on it: they are named) and,
   * unless `localOnly`, the stored versions (their chunks go at the next gc).
   */
  async delete(
    owner: string,
    name: string,
    options: { localOnly?: boolean } = {},
  ): Promise<{ local: boolean; storedVersions: number }> {
    const storageName = ownerWorkspaceName(owner, name);
    const local = await this.store.get(storageName);
    const remote = options.localOnly ? [] : await this.sync.versions(storageName);
    if (!local && remote.length === 0) throw notFound(name);
    if (local) {
      await this.#invalidate(storageName); // its parked sandbox holds the workspace
      await this.store.delete(storageName).catch((error: unknown) => {
        if (!(error instanceof WorkspaceHasForksError)) throw error;
        // In the owner's words; another owner's fork (only the local admin makes those) unnamed.
        const shown = error.forks.map(
          (fork) => ownerWorkspaceDisplayName(owner, fork) ?? "another owner's workspace",
        );
        throw new WorkspaceHasForksError(storageName, error.forks, shown);
      });
    }
    if (remote.length > 0) await this.sync.deleteRemote(storageName);
    await this.#records?.deleteWorkspace(owner, name);
    this.store.changed(storageName);
    return { local: local !== undefined, storedVersions: remote.length };
  }
}

/** The owner and name a storage name stands for (`ownerWorkspaceName` backwards). */
function workspaceOwner(storageName: string): WorkspaceChange {
  const dot = storageName.indexOf('.');
  const prefix = dot < 0 ? undefined : storageName.slice(0, dot);
  if (prefix === undefined || !isValidOwner(prefix) || prefix === localOwner) {
    return { owner: localOwner, name: storageName };
  }
  return { owner: prefix, name: storageName.slice(dot + 1) };
}

function notFound(name: string): NotFoundError {
  return new NotFoundError(`Workspace ${JSON.stringify(name)} does not exist.`, {
    code: 'workspace_not_found',
    hint: 'mags workspace list shows yours; mags run -w NAME creates one.',
  });
}
