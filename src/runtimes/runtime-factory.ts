import type { IdMapping } from '../config/id-mapping.ts';
import type { ImageStore } from '../images/image-store.ts';
import type { WorkspaceStore } from '../workspaces/workspace-store.ts';
import type { WorkspaceSync } from '../workspaces/workspace-sync.ts';
import type { Runtime } from './runtime.ts';

/** The host's stores: where a runtime's layer provider finds images, workspaces and versions. */
export interface HostStores {
  images: ImageStore;
  workspaces: WorkspaceStore;
  /** Stored versions (object storage). */
  sync: WorkspaceSync;
}

/** What the composition root hands any runtime's factory: nothing shaped by one runtime. */
export interface RuntimeInputs {
  /** The mags data directory. */
  home: string;
  /** Where the runtime reads its own settings (`MAGS_UID_BASE` for `namespace`, say). */
  environment: NodeJS.ProcessEnv;
  stores: HostStores;
}

/** A runtime `MAGS_RUNTIME` can name. Neither member does I/O. */
export interface RuntimeFactory {
  /**
   * How the runtime's sandbox ids appear on the host, from its settings in the environment: the
   * stores that write files its sandboxes see (images, workspace layers, restores) are made with
   * it, before the runtime itself (which takes the stores). Identity for a runtime whose files
   * never meet the host's ids.
   */
  idMapping(environment: NodeJS.ProcessEnv): IdMapping;
  create(inputs: RuntimeInputs): Runtime;
}
