import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import type { Sandbox } from '../runtimes/runtime.ts';
import type { StateRepository } from '../state/state-repository.ts';
import type { JobCluster } from './job-cluster.ts';
import type { JobLogOptions } from './job-log.ts';
import type { LogRetention } from './log-retention.ts';
import type { UploadStore } from './upload-store.ts';

/** An exec job: a command in a running long-lived sandbox. */
export interface ExecJobRequest {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** The runtime of the sandbox it runs in (set by the sandboxes; default: the default one). */
  runtime?: string;
}

export interface JobManagerOptions {
  context: MagsContext;
  repository: StateRepository;
  /** Runs beyond this wait as `queued` (exec jobs in running sandboxes do not count). */
  maxConcurrentJobs?: number;
  /** Jobs one owner may have running at once, execs included (default 8); more wait. */
  maxJobsPerOwner?: number;
  /** Runs one owner may have waiting (default 64); one more is refused with a 429. */
  maxQueuedJobsPerOwner?: number;
  log?: JobLogOptions;
  /** Bounds stored output by owner and in total (none when absent). */
  retention?: LogRetention;
  killGraceMs?: number;
  /** The server process running the jobs, recorded on each (recovery after a restart). */
  instance?: ServerInstance;
  /** Where the files runs take (`files`) are staged; without it, runs take none. */
  uploads?: UploadStore;
  /**
   * The long-lived sandboxes exec jobs run in (the server's SandboxManager): deleting an exec
   * job the job system failed releases the command its sandbox may still keep for a server that
   * would resume it (capability reattach). Without it, such commands stay until the sandbox
   * stops or newer ended commands push them out.
   */
  execSandboxes?: {
    use(owner: string, name: string): Promise<{ sandbox: Sandbox; release(): void }>;
  };
  /** The servers sharing this state, where runs may be placed (default: none, all run here). */
  cluster?: JobCluster;
}
