import type { ServerCluster } from '../cluster/server-cluster.ts';
import type { MagsContext } from '../context/mags-context.ts';
import type { CronManager } from '../cron/cron-manager.ts';
import type { JobManager } from '../jobs/job-manager.ts';
import type { UploadStore } from '../jobs/upload-store.ts';
import type { PlanManager } from '../plans/plan-manager.ts';
import type { ProjectManager } from '../projects/project-manager.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { SandboxScheduler } from '../scheduling/sandbox-scheduler.ts';
import type { StateRepository } from '../state/state-repository.ts';
import type { TicketManager } from '../tickets/ticket-manager.ts';
import type { TriggerManager } from '../triggers/trigger-manager.ts';
import type { SandboxUrls } from '../urls/sandbox-urls.ts';
import type { DiskLimits } from './disk-limits.ts';
import type { HostForwarder } from './forwarding/host-forwarder.ts';
import type { McpSessions } from './mcp-sessions.ts';
import type { OwnerStreams } from './owner-streams.ts';

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
  /** Commands run as jobs on a schedule (`mags cron`). */
  cron: CronManager;
  /** Background agents: triggers on schedules, webhooks and events (issue 13). */
  triggers: TriggerManager;
  /** Plans of tickets run in parallel (issue 13). */
  plans: PlanManager;
  limits: {
    maxJsonBytes: number;
    maxUploadBytes: number;
    maxDownloadBytes: number;
    /** A download whose client takes no byte for this long is cut off. */
    downloadIdleTimeoutMs: number;
    /** Long-lived answers (event streams that follow, shells) one owner may hold open at once. */
    maxStreamsPerOwner: number;
  };
  /** What requests may ask of workspace disks. */
  disks: DiskLimits;
  version: string;
  /** This is the host's local server: it accepts the `local` owner's token (and only it does). */
  acceptLocalOwner: boolean;
  /** Where the built web dashboard is (default: the package's dist/dashboard). */
  dashboardDirectory?: string;
  /** URLs to sandboxes' ports (`mags url`); a server made without them has no URL routes. */
  urls?: SandboxUrls;
  /** Each owner's long-lived answers (made by createApp): the URL proxy's WebSockets count too. */
  streams?: OwnerStreams;
  /** The servers and hosts sharing this state (absent: one host on its own state). */
  cluster?: ServerCluster;
  /** Decides which requests another host answers (several hosts on one state; forwarding/). */
  forwarder?: HostForwarder;
  /** The open sessions of `/mcp` (made by createApp unless given): closed when the server stops. */
  mcpSessions?: McpSessions;
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
