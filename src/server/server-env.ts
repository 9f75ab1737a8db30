import type { MagsContext } from '../context/mags-context.ts';
import type { JobManager } from '../jobs/job-manager.ts';
import type { UploadStore } from '../jobs/upload-store.ts';
import type { PlanManager } from '../plans/plan-manager.ts';
import type { ProjectManager } from '../projects/project-manager.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { SandboxScheduler } from '../scheduling/sandbox-scheduler.ts';
import type { StateRepository } from '../state/state-repository.ts';
import type { TicketManager } from '../tickets/ticket-manager.ts';
import type { DiskLimits } from './disk-limits.ts';

/** What the routes work with; one set per server process. */
export interface ServerServices {
  context: MagsContext;
  repository: StateRepository;
  jobs: JobManager;
  /** Files staged for runs (`POST /v1/uploads`). */
  uploads: UploadStore;
  sandboxes: SandboxManager;
  /** Repositories imported into project workspaces (GUIDE §5). */
  projects: ProjectManager;
  scheduler: SandboxScheduler;
  /** Tickets worked by agents (GUIDE §5). */
  tickets: TicketManager;
  /** Plans of tickets run in parallel (issue 13). */
  plans: PlanManager;
  limits: {
    maxJsonBytes: number;
    maxUploadBytes: number;
    maxDownloadBytes: number;
    /** A download whose client takes no byte for this long is cut off. */
    downloadIdleTimeoutMs: number;
  };
  /** What requests may ask of workspace disks. */
  disks: DiskLimits;
  version: string;
  /** This is the host's local server: it accepts the `local` owner's token (and only it does). */
  acceptLocalOwner: boolean;
}

/** Hono's per-request variables, set by the middleware. */
export interface ServerEnv {
  Variables: {
    owner: string;
    tokenId: string;
    /** The token may read host-wide figures (`/v1/pool`); its reach stays its owner's. */
    admin: boolean;
    requestId: string;
  };
}
