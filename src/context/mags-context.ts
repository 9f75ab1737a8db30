import { availableParallelism } from 'node:os';
import { resolveMagsHome } from '../config/mags-home.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import { ImageStore } from '../images/image-store.ts';
import { createShiftedIdMapping, defaultUidBase } from '../runtimes/namespace/id-mapping.ts';
import type { ResourceLimits, Runtime } from '../runtimes/runtime.ts';
import type { SandboxScheduler } from '../scheduling/sandbox-scheduler.ts';
import { createObjectStore } from '../storage/create-object-store.ts';
import { parseDiskMiB } from '../workspaces/workspace-disk.ts';
import { WorkspaceManager } from '../workspaces/workspace-manager.ts';
import { WorkspaceStore } from '../workspaces/workspace-store.ts';
import { WorkspaceSync } from '../workspaces/workspace-sync.ts';
import { chooseRuntime } from './choose-runtime.ts';

/** Everything a local (in-process) mags needs, wired once. Creating it does no I/O. */
export interface MagsContext {
  home: string;
  runtime: Runtime;
  images: ImageStore;
  workspaces: WorkspaceStore;
  /** Persistent workspaces in object storage (S3, or the filesystem store). */
  sync: WorkspaceSync;
  /** Workspaces by owner: listing, fork, delete, sync; drops a parked sandbox before a change. */
  workspaceManager: WorkspaceManager;
  defaults: { limits: ResourceLimits; timeoutMs: number; image: string };
  /** A server's pool and warm cache; in-process CLI runs start and stop their own sandboxes. */
  scheduler?: SandboxScheduler;
}

export function createMagsContext(environment: NodeJS.ProcessEnv = process.env): MagsContext {
  const home = resolveMagsHome(environment);
  const uidBase = environment.MAGS_UID_BASE ? Number(environment.MAGS_UID_BASE) : defaultUidBase;
  if (!Number.isInteger(uidBase) || uidBase < 1) {
    throw new InvalidInputError(
      `MAGS_UID_BASE must be a positive integer, not ${environment.MAGS_UID_BASE}.`,
    );
  }
  // Sandbox ids are the runtime's business (namespace: shifted to subordinate host ids); the
  // stores that write files sandboxes see get the same mapping from here.
  const idMapping = createShiftedIdMapping({ uidBase });
  const images = new ImageStore({ home, idMapping });
  const workspaces = new WorkspaceStore({
    home,
    idMapping,
    defaultDiskMiB: environment.MAGS_DISK
      ? parseDiskMiB(environment.MAGS_DISK, 'MAGS_DISK')
      : undefined,
  });
  const sync = new WorkspaceSync({ store: createObjectStore(home, environment), workspaces, home });
  const context: MagsContext = {
    home,
    runtime: chooseRuntime(environment.MAGS_RUNTIME, {
      home,
      idMapping,
      stores: { images, workspaces, sync },
    }),
    images,
    workspaces,
    sync,
    // The scheduler is set later, by a server: looked up at the time of each change.
    workspaceManager: new WorkspaceManager({
      store: workspaces,
      sync,
      invalidate: async (name) => {
        await context.scheduler?.invalidate(name);
      },
    }),
    defaults: {
      // Limits are always on; these defaults suit `npm install` of a large project.
      limits: { memoryMiB: 2048, cpus: availableParallelism(), pidsMax: 4096 },
      timeoutMs: 60 * 60 * 1000,
      image: 'default',
    },
  };
  return context;
}
