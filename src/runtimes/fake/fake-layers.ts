import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MagsError } from '../../errors/mags-error.ts';
import type { ImageStore } from '../../images/image-store.ts';
import type { WorkspaceStore } from '../../workspaces/workspace-store.ts';
import type { WorkspaceSync } from '../../workspaces/workspace-sync.ts';
import type { AttachSpec } from '../runtime.ts';

/**
 * Where the fake runtime finds what a spec names (injected; each optional): an image is only
 * checked to exist, a workspace is its layers' directories (as the namespace runtime's overlay
 * provider finds them), a stored version is its snapshot directory.
 */
export interface FakeLayerStores {
  images?: Pick<ImageStore, 'require'>;
  workspaces?: Pick<WorkspaceStore, 'open' | 'ensure'>;
  sync?: Pick<WorkspaceSync, 'snapshot'>;
}

/** Where a fake sandbox's `/workspace` is on the host, and what to do when it stops. */
export interface FakeLayer {
  directory: string;
  release(): Promise<void>;
}

/**
 * The fake runtime's layer provider: it has no root filesystem of its own (commands see the
 * host's), only a directory standing for `/workspace`. It never mounts anything:
 * - a writable workspace: `/workspace` is `workspace/` inside the workspace's upper directory,
 *   where an overlay would put what a command writes to `/workspace`, so the stores above find
 *   the files where a real run leaves them;
 * - a read-only workspace or a stored version: a throw-away copy of its `workspace/`;
 * - no workspace: an empty throw-away directory.
 */
export async function acquireFakeLayer(
  stores: FakeLayerStores,
  { image, workspace, limits }: Pick<AttachSpec, 'image' | 'workspace' | 'limits'>,
): Promise<FakeLayer> {
  await stores.images?.require(image.name);
  if (workspace === undefined) return scratchCopyOf([]);
  if (workspace.version !== undefined) {
    const snapshot = await required(stores.sync, 'stored versions').snapshot(
      workspace.name,
      workspace.version,
    );
    return scratchCopyOf([snapshot]);
  }
  const workspaces = required(stores.workspaces, 'workspaces');
  if (workspace.access === 'read-only') {
    const paths = await workspaces.open(workspace.name);
    // Bottom-most first, so that upper layers' files replace lower ones' (no whiteouts here).
    return scratchCopyOf([...paths.lowerDirs].reverse().concat(paths.upperDir));
  }
  const paths = await workspaces.ensure(workspace.name, image.name, limits.diskMiB);
  const directory = join(paths.upperDir, 'workspace');
  await mkdir(directory, { recursive: true });
  return { directory, release: async () => {} };
}

/** A throw-away directory holding the `workspace/` of each layer, in order. */
async function scratchCopyOf(layers: string[]): Promise<FakeLayer> {
  const scratch = await mkdtemp(join(tmpdir(), 'mags-fake-sandbox-'));
  const release = () => rm(scratch, { recursive: true, force: true });
  try {
    for (const layer of layers) {
      await cp(join(layer, 'workspace'), scratch, { recursive: true }).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error; // a layer nothing was written to /workspace in
        },
      );
    }
  } catch (error) {
    await release();
    throw error;
  }
  return { directory: scratch, release };
}

function required<Store>(store: Store | undefined, what: string): Store {
  if (store === undefined) {
    throw new MagsError(`This fake runtime was created without a store for ${what}.`, {
      code: 'sandbox_start_failed',
      hint: 'Pass it in createFakeRuntime({ stores }).',
    });
  }
  return store;
}
