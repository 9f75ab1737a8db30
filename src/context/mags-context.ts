import { availableParallelism } from 'node:os';
import { resolveMagsHome } from '../config/mags-home.ts';
import { ImageStore } from '../images/image-store.ts';
import type { EgressRule, ResourceLimits, Runtime } from '../runtimes/runtime.ts';
import type { HostStores } from '../runtimes/runtime-factory.ts';
import type { HeadStart } from '../scheduling/head-start.ts';
import type { SandboxScheduler } from '../scheduling/sandbox-scheduler.ts';
import { createObjectStore } from '../storage/create-object-store.ts';
import { parseDiskMiB } from '../workspaces/workspace-disk.ts';
import { WorkspaceManager } from '../workspaces/workspace-manager.ts';
import { WorkspaceStore } from '../workspaces/workspace-store.ts';
import { WorkspaceSync } from '../workspaces/workspace-sync.ts';
import { assertSameIdMapping, chooseRuntime, offeredRuntimes } from './choose-runtime.ts';

/** Everything a local (in-process) mags needs, wired once. Creating it does no I/O. */
export interface MagsContext {
  home: string;
  /** The default runtime: what a run or sandbox that names none runs on. */
  runtime: Runtime;
  /** Every runtime offered, by name (the default among them): `selectRuntime` picks one. */
  runtimes: Readonly<Record<string, Runtime>>;
  images: ImageStore;
  workspaces: WorkspaceStore;
  /** Persistent workspaces in object storage (S3, or the filesystem store). */
  sync: WorkspaceSync;
  /** Workspaces by owner: listing, fork, delete, sync; drops a parked sandbox before a change. */
  workspaceManager: WorkspaceManager;
  defaults: {
    limits: ResourceLimits;
    timeoutMs: number;
    image: string;
    /** The allow-list a run or sandbox with network gets when it gives none (`mags server --allow-host`). */
    allow?: EgressRule[];
  };
  /** A server's pool and warm cache; in-process CLI runs start and stop their own sandboxes. */
  scheduler?: SandboxScheduler;
  /** The one sandbox a CLI's embedded run prepared ahead (it has no scheduler). */
  headStart?: HeadStart;
}

/** What a context is assembled from: a home, its stores and a runtime over them, the defaults. */
export type MagsContextParts = HostStores &
  Pick<MagsContext, 'home' | 'runtime' | 'defaults'> & {
    /** The other runtimes offered besides the default (`runtime`), over the same stores. */
    runtimes?: Runtime[];
  };

/** The host's context from the environment (`MAGS_HOME`, `MAGS_RUNTIME` and the runtime's own). */
export function createMagsContext(environment: NodeJS.ProcessEnv = process.env): MagsContext {
  const home = resolveMagsHome(environment);
  const runtime = chooseRuntime(environment.MAGS_RUNTIME);
  // Sandbox ids are the runtime's business (namespace: shifted to subordinate host ids); the
  // stores that write files its sandboxes see take the mapping it asks for.
  const idMapping = runtime.idMapping(environment);
  const others = Object.entries(offeredRuntimes()).filter(([, factory]) => factory !== runtime);
  for (const [name, factory] of others) {
    assertSameIdMapping(
      environment.MAGS_RUNTIME || 'namespace',
      idMapping,
      name,
      factory.idMapping(environment),
    );
  }
  const images = new ImageStore({ home, idMapping });
  const workspaces = new WorkspaceStore({
    home,
    idMapping,
    defaultDiskMiB: environment.MAGS_DISK
      ? parseDiskMiB(environment.MAGS_DISK, 'MAGS_DISK')
      : undefined,
  });
  const sync = new WorkspaceSync({ store: createObjectStore(home, environment), workspaces, home });
  const stores = { images, workspaces, sync };
  return assembleMagsContext({
    home,
    ...stores,
    runtime: runtime.create({ home, environment, stores }),
    runtimes: others.map(([, factory]) => factory.create({ home, environment, stores })),
    defaults: {
      // Limits are always on; these defaults suit `npm install` of a large project.
      limits: { memoryMiB: 2048, cpus: availableParallelism(), pidsMax: 4096 },
      timeoutMs: 60 * 60 * 1000,
      image: 'default',
    },
  });
}

/**
 * A context from parts made elsewhere (the tests' fake runtime and directory workspaces): the
 * workspace manager over its stores, which drops a server's parked sandbox of a workspace before
 * a change (the scheduler is set later, by a server, and looked up at each change).
 */
export function assembleMagsContext(parts: MagsContextParts): MagsContext {
  const runtimes: Record<string, Runtime> = { [parts.runtime.name]: parts.runtime };
  for (const runtime of parts.runtimes ?? []) {
    if (runtime === parts.runtime) continue;
    if (runtimes[runtime.name]) throw new Error(`Two runtimes are named ${runtime.name}.`);
    runtimes[runtime.name] = runtime;
  }
  const context: MagsContext = {
    ...parts,
    runtimes,
    workspaceManager: new WorkspaceManager({
      store: parts.workspaces,
      sync: parts.sync,
      invalidate: async (name) => {
        await context.scheduler?.invalidate(name);
      },
    }),
  };
  return context;
}
