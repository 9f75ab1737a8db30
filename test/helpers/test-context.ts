/**
 * A MagsContext that runs as any user: the fake runtime (plain child processes), a fake image
 * (an `image.json` over an empty root filesystem) and workspaces as plain directories (no loop
 * disk, no chown), on a throw-away MAGS_HOME. The managers above it (jobs, sandboxes, scheduler,
 * routes) run unchanged on it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MagsContext } from '../../src/context/mags-context.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { createFakeRuntime, type FakeRuntime } from '../../src/runtimes/fake/fake-runtime.ts';
import { createFilesystemObjectStore } from '../../src/storage/filesystem/filesystem-object-store.ts';
import {
  type WorkspaceInfo,
  type WorkspacePaths,
  WorkspaceStore,
} from '../../src/workspaces/workspace-store.ts';
import { WorkspaceSync } from '../../src/workspaces/workspace-sync.ts';

const uidBase = 100_000;

/**
 * Workspaces in the layout of those made before disks existed (`upper/` and `work/` directly in
 * the workspace's directory, no `diskMiB`): the one layout the store opens without mounting, and
 * creating one needs neither mkfs, mount nor chown. A requested disk size is not applied.
 */
export class DirectoryWorkspaceStore extends WorkspaceStore {
  override async ensure(name: string, image: string, diskMiB?: number): Promise<WorkspacePaths> {
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
  runtime: FakeRuntime;
  workspaces: DirectoryWorkspaceStore;
  home: string;
  cleanup(): Promise<void>;
}

export async function createTestContext(
  options: { defaults?: Partial<MagsContext['defaults']> } = {},
): Promise<FakeTestContext> {
  const home = await mkdtemp(join(tmpdir(), 'mags-fake-home-'));
  const image = join(home, 'images', 'default');
  await mkdir(join(image, 'rootfs'), { recursive: true });
  await writeFile(
    join(image, 'image.json'),
    JSON.stringify({
      name: 'default',
      createdAt: new Date().toISOString(),
      uidBase,
      sizeBytes: 0,
      debianRelease: 'none (fake image for tests)',
      versions: {},
    }),
  );
  const runtime = createFakeRuntime();
  const workspaces = new DirectoryWorkspaceStore({ home, uidBase });
  const context: MagsContext = {
    home,
    uidBase,
    runtime,
    images: new ImageStore({ home }),
    workspaces,
    sync: new WorkspaceSync({
      store: createFilesystemObjectStore({ root: join(home, 'store') }),
      workspaces,
      home,
      uidBase,
    }),
    defaults: {
      limits: { memoryMiB: 256, cpus: 1, pidsMax: 256 },
      timeoutMs: 60_000,
      image: 'default',
      ...options.defaults,
    },
  };
  return {
    context,
    runtime,
    workspaces,
    home,
    async cleanup() {
      await Promise.allSettled([...runtime.running].map((sandbox) => sandbox.stop()));
      await rm(home, { recursive: true, force: true });
    },
  };
}
