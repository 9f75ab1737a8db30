/**
 * A MagsContext that runs as any user: the fake runtime (plain child processes, finding images,
 * workspaces and stored versions through the same stores as the namespace runtime), a fake image
 * (an `image.json` over an empty root filesystem) and workspaces as plain directories (no loop
 * disk, no chown), on a throw-away MAGS_HOME. The managers above it (jobs, sandboxes, scheduler,
 * routes) run unchanged on it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityIdMapping } from '../../src/config/id-mapping.ts';
import { assembleMagsContext, type MagsContext } from '../../src/context/mags-context.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { createFakeRuntime, type FakeRuntime } from '../../src/runtimes/fake/fake-runtime.ts';
import { createFilesystemObjectStore } from '../../src/storage/filesystem/filesystem-object-store.ts';
import {
  type OpenWorkspace,
  type WorkspaceInfo,
  WorkspaceStore,
} from '../../src/workspaces/workspace-store.ts';
import { WorkspaceSync } from '../../src/workspaces/workspace-sync.ts';

/**
 * Workspaces in the layout of those made before disks existed (`upper/` and `work/` directly in
 * the workspace's directory, no `diskMiB`): the one layout the store opens without mounting, and
 * creating one needs neither mkfs, mount nor chown. A requested disk size is not applied.
 */
export class DirectoryWorkspaceStore extends WorkspaceStore {
  override async ensure(name: string, image: string, diskMiB?: number): Promise<OpenWorkspace> {
    if (await this.get(name)) return super.ensure(name, image, diskMiB);
    const { directory } = this.paths(name);
    await mkdir(join(directory, 'upper'), { recursive: true });
    await mkdir(join(directory, 'work'), { recursive: true });
    const info: WorkspaceInfo = {
      name,
      image,
      createdAt: new Date().toISOString(),
      lastRunAt: undefined,
    };
    await writeFile(join(directory, 'workspace.json'), `${JSON.stringify(info, null, 2)}\n`);
    return this.open(name);
  }

  /** Nothing is mounted, so nothing needs to propagate into pooled sandboxes. */
  override async prepareMounts(): Promise<void> {}
}

export interface FakeTestContext {
  context: MagsContext;
  /** The default runtime. */
  runtime: FakeRuntime;
  /** Every runtime of the context by name, the default among them. */
  runtimes: Record<string, FakeRuntime>;
  workspaces: DirectoryWorkspaceStore;
  home: string;
  cleanup(): Promise<void>;
}

export async function createTestContext(
  options: {
    defaults?: Partial<MagsContext['defaults']>;
    /** The fake images to make (default: `default`). */
    imageNames?: string[];
    /**
     * Fake runtimes side by side over the same stores, the first the default (default: one,
     * named `fake`): what tests of runtime selection run on.
     */
    runtimes?: Omit<Parameters<typeof createFakeRuntime>[0], 'stores'>[];
  } = {},
): Promise<FakeTestContext> {
  const home = await mkdtemp(join(tmpdir(), 'mags-fake-home-'));
  for (const name of options.imageNames ?? ['default']) {
    const image = join(home, 'images', name);
    await mkdir(join(image, 'rootfs'), { recursive: true });
    await writeFile(
      join(image, 'image.json'),
      JSON.stringify({
        name,
        createdAt: new Date().toISOString(),
        // Commands of the fake runtime run as host users: no shifted ids (it never checks them).
        uidBase: 0,
        sizeBytes: 0,
        debianRelease: 'none (fake image for tests)',
        versions: {},
      }),
    );
  }
  // The fake runtime's files belong to host users as they are: nothing to shift.
  const idMapping = identityIdMapping;
  const images = new ImageStore({ home, idMapping });
  const workspaces = new DirectoryWorkspaceStore({ home, idMapping });
  const sync = new WorkspaceSync({
    store: createFilesystemObjectStore({ root: join(home, 'store') }),
    workspaces,
    home,
  });
  const [runtime, ...others] = (options.runtimes ?? [{}]).map((runtimeOptions) =>
    createFakeRuntime({ ...runtimeOptions, stores: { images, workspaces, sync } }),
  );
  if (!runtime) throw new Error('createTestContext: runtimes is empty');
  const context = assembleMagsContext({
    home,
    runtime,
    runtimes: others,
    images,
    workspaces,
    sync,
    defaults: {
      limits: { memoryMiB: 256, cpus: 1, pidsMax: 256 },
      timeoutMs: 60_000,
      image: 'default',
      ...options.defaults,
    },
  });
  return {
    context,
    runtime,
    runtimes: Object.fromEntries([runtime, ...others].map((each) => [each.name, each])),
    workspaces,
    home,
    async cleanup() {
      // Detached sandboxes too: they outlive their handles (capability reattach).
      await Promise.all([runtime, ...others].map((each) => each.stopAll()));
      await rm(home, { recursive: true, force: true });
    },
  };
}
