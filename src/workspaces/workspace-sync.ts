import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { IdMapping } from '../config/id-mapping.ts';
import { uniqueSuffix } from '../config/unique-suffix.ts';
import { ConflictError, MagsError } from '../errors/mags-error.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { checkFits, diskFullError } from './restore-fits.ts';
import type { Manifest } from './sync/manifest.ts';
import type { PushResult, SyncProgress } from './sync/push-workspace.ts';
import { stagingName, sweepStaleRestores } from './sync/stale-restores.ts';
import type { VersionInfo } from './sync/versions.ts';
import { giveToSandboxRoot } from './workspace-layers.ts';
import { acquireLock } from './workspace-lock.ts';
import { type WorkspaceStore, workspaceBusyError } from './workspace-store.ts';

/** The sync machinery (hashing, compression), loaded only when a workspace is synced. */
const engine = async () => {
  const [manifest, pull, push, versions] = await Promise.all([
    import('./sync/manifest.ts'),
    import('./sync/pull-workspace.ts'),
    import('./sync/push-workspace.ts'),
    import('./sync/versions.ts'),
  ]);
  return { ...manifest, ...pull, ...push, ...versions };
};

/**
 * Persistent workspaces: the local layer synced to an object store as versions, and restored
 * from it on any host.
 */
export class WorkspaceSync {
  readonly store: ObjectStore;
  readonly #workspaces: WorkspaceStore;
  readonly #home: string;

  constructor(options: { store: ObjectStore; workspaces: WorkspaceStore; home: string }) {
    this.store = options.store;
    this.#workspaces = options.workspaces;
    this.#home = options.home;
  }

  /** The runtime's id mapping, as the workspace store has it: restored files get sandbox ids. */
  get #idMapping(): IdMapping {
    return this.#workspaces.idMapping;
  }

  get #rootOwner(): number {
    return this.#idMapping.toHost(0);
  }

  get #cacheDirectory(): string {
    return join(this.#home, 'cache', 'chunks');
  }

  async versions(name: string): Promise<VersionInfo[]> {
    this.#workspaces.paths(name);
    const { listVersions } = await engine();
    return listVersions(this.store, name);
  }

  /** Uploads the local layer as a new version (nothing is written when nothing changed). */
  async push(
    name: string,
    onProgress?: (progress: SyncProgress) => void,
    /** `smallFileBytes: 0` writes the layout before packs (the benchmark's comparison). */
    layout: { smallFileBytes?: number } = {},
  ): Promise<PushResult> {
    const paths = await this.#workspaces.open(name);
    const { info } = paths;
    const { pushWorkspace } = await engine();
    // One sync of a workspace at a time on this host; runs may go on meanwhile (files are read
    // as they are when the sync reaches them).
    const lock = await acquireLock(
      join(paths.directory, 'sync.lock'),
      'exclusive',
      () =>
        new ConflictError(`Workspace ${JSON.stringify(name)} is already being synced.`, {
          workspace: name,
        }),
    );
    try {
      const result = await pushWorkspace({
        store: this.store,
        workspace: name,
        upperDir: paths.upperDir,
        // A fork's files are mostly in its chain: the version is the merged view of all layers.
        lowerLayers: paths.chain,
        stateDirectory: paths.directory,
        idMapping: this.#idMapping,
        baseVersion: info.remoteVersion ?? null,
        // A fork's files are mostly its sources': their stored packs are referenced, not re-sent.
        sharedManifests: await this.#sourceManifests(name, info.lowerLayers ?? []),
        smallFileBytes: layout.smallFileBytes,
        onProgress,
      });
      await this.#workspaces.update(name, { remoteVersion: result.version });
      return result;
    } finally {
      await lock.release();
    }
  }

  /** The stored versions of the workspaces a fork builds on (none stored: none). */
  async #sourceManifests(name: string, layers: Array<{ workspace: string }>): Promise<Manifest[]> {
    const { latestVersion, loadManifest } = await engine();
    const manifests: Manifest[] = [];
    for (const source of new Set(layers.map((layer) => layer.workspace))) {
      if (source === name) continue;
      const version =
        (await this.#workspaces.get(source))?.remoteVersion ??
        (await latestVersion(this.store, source));
      // Sharing is an optimisation: a source without a readable version is simply not shared.
      if (version !== null)
        manifests.push(
          ...(await loadManifest(this.store, source, version).then(
            (m) => [m],
            () => [],
          )),
        );
    }
    return manifests;
  }

  /**
   * Makes the local workspace the given version (default: the latest). Refused while a sandbox
   * uses it; the previous local layer is replaced only once the new one is complete.
   */
  async pull(
    name: string,
    options: {
      version?: number;
      image: string;
      /** The disk of a workspace this host does not have yet (default: the host's default). */
      diskMiB?: number;
      onProgress?: (progress: SyncProgress) => void;
    },
  ): Promise<number> {
    const { latestVersion, loadManifest, pullWorkspace } = await engine();
    const version = options.version ?? (await latestVersion(this.store, name));
    if (version === null) {
      throw new MagsError(
        `Workspace ${JSON.stringify(name)} has no versions in ${this.store.location}.`,
        { code: 'version_not_found', statusCode: 404, workspace: name },
      );
    }
    const manifest = await loadManifest(this.store, name, version);
    const local = await this.#workspaces.get(name);
    const existed = local !== undefined;
    // On the workspace's disk, beside the layer it replaces: the swap is a rename. A fresh host
    // makes the disk (mkfs, mount: ~0.1 s) while the first packs download.
    let staging: string | undefined;
    const prepared = (async () => {
      const paths = await this.#workspaces.ensure(name, options.image, options.diskMiB);
      await checkFits(this.#workspaces, name, version, manifest.totalBytes);
      await sweepStaleRestores(paths.layerDirectory, 'upper');
      staging = join(paths.layerDirectory, stagingName('upper', uniqueSuffix()));
      return { paths, staging };
    })();
    try {
      await pullWorkspace({
        store: this.store,
        manifest,
        targetDirectory: prepared.then((ready) => ready.staging),
        cacheDirectory: this.#cacheDirectory,
        idMapping: this.#idMapping,
        onProgress: options.onProgress,
      });
      const { paths, staging: layer } = await prepared;
      await giveToSandboxRoot(layer, this.#rootOwner);
      const lock = await acquireLock(paths.lockPath, 'exclusive', () => workspaceBusyError(name));
      try {
        const old = `${paths.upperDir}.old-${uniqueSuffix()}`;
        if (existsSync(paths.upperDir)) await rename(paths.upperDir, old);
        await rename(layer, paths.upperDir);
        // The overlay's work directory belongs to the old layer.
        await rm(paths.workDir, { recursive: true, force: true });
        await mkdir(paths.workDir);
        await giveToSandboxRoot(paths.workDir, this.#rootOwner);
        await rm(join(paths.directory, 'sync-state.json'), { force: true });
        // The version is whole: the workspace no longer builds on any frozen layer.
        await this.#workspaces.update(name, {
          remoteVersion: version,
          lowerLayers: undefined,
          forkedFrom: undefined,
        });
        await rm(old, { recursive: true, force: true });
      } finally {
        await lock.release();
      }
      if (local?.lowerLayers?.length) {
        for (const source of new Set(local.lowerLayers.map((layer) => layer.workspace)))
          await this.#workspaces.pruneLayers(source);
      }
    } catch (error) {
      await prepared.catch(() => {}); // the disk may still be in the making
      // A restore that fails on a host that had no copy leaves none, not an empty workspace.
      if (!existed) await this.#workspaces.delete(name).catch(() => {});
      if ((error as { code?: unknown }).code === 'ENOSPC') {
        const diskMiB = local
          ? local.diskMiB
          : (options.diskMiB ?? this.#workspaces.defaultDiskMiB);
        throw diskFullError(name, version, manifest.totalBytes, diskMiB, error);
      }
      throw error;
    } finally {
      if (staging) await rm(staging, { recursive: true, force: true });
    }
    return version;
  }

  /** A read-only copy of one version, for `-w name@N` runs; kept as a cache. */
  async snapshot(
    name: string,
    version: number,
    onProgress?: (progress: SyncProgress) => void,
  ): Promise<string> {
    this.#workspaces.paths(name);
    const directory = join(this.#home, 'snapshots', `${name}@${version}`);
    const upper = join(directory, 'upper');
    if (existsSync(upper)) return upper;
    const { loadManifest, pullWorkspace } = await engine();
    const manifest = await loadManifest(this.store, name, version);
    const staging = `${directory}.restoring-${uniqueSuffix()}`;
    try {
      await pullWorkspace({
        store: this.store,
        manifest,
        targetDirectory: join(staging, 'upper'),
        cacheDirectory: this.#cacheDirectory,
        idMapping: this.#idMapping,
        onProgress,
      });
      await giveToSandboxRoot(join(staging, 'upper'), this.#rootOwner);
      await mkdir(join(this.#home, 'snapshots'), { recursive: true, mode: 0o711 });
      await rename(staging, directory);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return upper;
  }

  /** Removes every version of a workspace from the store (its chunks go at the next gc). */
  async deleteRemote(name: string): Promise<number> {
    const { listVersions, manifestKey } = await engine();
    const versions = await listVersions(this.store, name);
    await this.store.delete(versions.map((version) => manifestKey(name, version.version)));
    return versions.length;
  }

  /**
   * Deletes chunks and packs no version references. An object younger than the grace period is
   * kept even when unreferenced: a sync in progress uploads its objects before it commits its
   * manifest. A pack some version still reads is kept whole, however little of it that version
   * reads (a sync stops referring to a pack it would read less than half of: push-workspace.ts).
   */
  async garbageCollect(options: { graceMs?: number } = {}): Promise<{
    deletedChunks: number;
    keptChunks: number;
    deletedPacks: number;
    keptPacks: number;
  }> {
    const graceMs = options.graceMs ?? 60 * 60 * 1000;
    const { chunkKey, loadManifest, packKey } = await engine();
    const referenced = new Set<string>();
    const referencedPacks = new Set<string>();
    for await (const object of this.store.list('workspaces/')) {
      const match = /^workspaces\/([^/]+)\/versions\/(\d{10})\.json\.zst$/.exec(object.key);
      if (!match) continue;
      const manifest = await loadManifest(this.store, match[1] as string, Number(match[2]));
      for (const pack of manifest.packs ?? []) referencedPacks.add(pack.hash);
      for (const entry of manifest.entries)
        if (entry.type === 'file' && entry.pack === undefined)
          for (const hash of entry.chunks) referenced.add(hash);
    }
    const cutoff = Date.now() - graceMs;
    const sweep = async (prefix: string, live: Set<string>, key: (hash: string) => string) => {
      const doomed: string[] = [];
      let kept = 0;
      for await (const object of this.store.list(prefix)) {
        const hash = object.key.split('/').at(-1) ?? '';
        if (live.has(hash) || object.lastModified.getTime() > cutoff) kept++;
        else doomed.push(key(hash));
      }
      await this.store.delete(doomed);
      return { deleted: doomed.length, kept };
    };
    const chunks = await sweep('chunks/', referenced, chunkKey);
    const packs = await sweep('packs/', referencedPacks, packKey);
    return {
      deletedChunks: chunks.deleted,
      keptChunks: chunks.kept,
      deletedPacks: packs.deleted,
      keptPacks: packs.kept,
    };
  }
}
