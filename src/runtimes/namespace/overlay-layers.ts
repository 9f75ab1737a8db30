import { MagsError } from '../../errors/mags-error.ts';
import type { ImageStore } from '../../images/image-store.ts';
import type { WorkspaceStore } from '../../workspaces/workspace-store.ts';
import type { WorkspaceSync } from '../../workspaces/workspace-sync.ts';
import type { AttachSpec } from '../runtime.ts';
import { assertTraversable } from './check-traversable.ts';
import type { ShiftedIdMapping } from './id-mapping.ts';

/** The host stores the namespace runtime materialises references from (injected: no I/O here). */
export interface OverlayLayerStores {
  images: Pick<ImageStore, 'require'>;
  workspaces: Pick<WorkspaceStore, 'open' | 'ensure' | 'prepareMounts'>;
  /** Stored versions (`-w name@3`): a read-only copy of one, kept on this host. */
  sync: Pick<WorkspaceSync, 'snapshot'>;
}

/** What the launcher mounts: an overlay and the locks it holds for the sandbox's whole life. */
export interface OverlayLayers {
  /** Read-only layers, the top-most first (the image's last: its rootfs, then mags' defaults). */
  lowerDirs: string[];
  /** The workspace's own layer; absent: the launcher makes a scratch layer (throw-away). */
  writable?: { upperDir: string; workDir: string };
  /** flock(2) paths: one writer per workspace (exclusive), readers shared. */
  locks: { exclusive: string[]; shared: string[] };
}

export interface OverlayLayerProvider {
  /**
   * Readies the host before a sandbox is prepared whose layers come later (a pool's): workspace
   * disks mounted after its mount namespace exists must still appear in it.
   */
  prepareHost(): Promise<void>;
  /** Turns a spec's references into host directories and locks (mounting a workspace's disk). */
  materialise(spec: Pick<AttachSpec, 'image' | 'workspace' | 'limits'>): Promise<OverlayLayers>;
}

/**
 * The namespace runtime's layer provider: an image is its rootfs directory above the layer of
 * mags' defaults (`ImageInfo.lowerLayers`, both never written to); a writable workspace
 * is its upper and work directories on its disk, below which its chain of frozen layers (a
 * fork's: its own, then its sources', on their disks) and the image lie, with an exclusive lock;
 * a read-only one is its layer above the same chain, with a shared lock; a stored version is its
 * snapshot directory. A chain's layers are held with their disks' `layers.lock` shared, so no
 * source workspace is deleted or its disk grown (unmounted) under the sandbox.
 */
export function createOverlayLayerProvider(options: {
  stores: OverlayLayerStores;
  idMapping: ShiftedIdMapping;
}): OverlayLayerProvider {
  const { stores, idMapping } = options;
  return {
    prepareHost: () => stores.workspaces.prepareMounts(),
    async materialise(spec) {
      const image = await stores.images.require(spec.image.name);
      // Files of an image built for other ids would belong to nobody the sandbox knows.
      if (image.uidBase !== idMapping.uidBase) {
        throw new MagsError(
          `Image ${image.name} was built for sandbox uid base ${image.uidBase}, but this host uses ${idMapping.uidBase}.`,
          { code: 'image_mismatch', hint: `Rebuild it: mags image build --name ${image.name}` },
        );
      }
      const layers = await workspaceLayers(stores, spec, image.lowerLayers);
      await assertTraversable(
        [
          ...layers.lowerDirs,
          ...(layers.writable ? [layers.writable.upperDir, layers.writable.workDir] : []),
        ],
        idMapping.uidBase,
      );
      return layers;
    },
  };
}

async function workspaceLayers(
  stores: OverlayLayerStores,
  { image, workspace, limits }: Pick<AttachSpec, 'image' | 'workspace' | 'limits'>,
  imageLayers: string[],
): Promise<OverlayLayers> {
  const locks: OverlayLayers['locks'] = { exclusive: [], shared: [] };
  if (!workspace) return { lowerDirs: [...imageLayers], locks };
  if (workspace.version !== undefined) {
    // A stored version is immutable: nothing to lock.
    const snapshot = await stores.sync.snapshot(workspace.name, workspace.version);
    return { lowerDirs: [snapshot, ...imageLayers], locks };
  }
  if (workspace.access === 'read-only') {
    const paths = await stores.workspaces.open(workspace.name);
    locks.shared.push(paths.lockPath, ...paths.layerLockPaths);
    return { lowerDirs: [paths.upperDir, ...paths.lowerDirs, ...imageLayers], locks };
  }
  const paths = await stores.workspaces.ensure(workspace.name, image.name, limits.diskMiB);
  locks.exclusive.push(paths.lockPath);
  locks.shared.push(...paths.layerLockPaths);
  return {
    lowerDirs: [...paths.lowerDirs, ...imageLayers],
    writable: { upperDir: paths.upperDir, workDir: paths.workDir },
    locks,
  };
}
