import { join } from 'node:path';
import { currentServerInstance } from '../config/server-instance.ts';
import { createMagsContext, type MagsContext } from '../context/mags-context.ts';
import { JobManager } from '../jobs/job-manager.ts';
import { UploadStore } from '../jobs/upload-store.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import type { JobRecord } from '../state/state-repository.ts';
import { localOwner } from '../workspaces/owner-workspace.ts';
import { sweepGoneRuns } from './sweep-gone-runs.ts';

export interface EmbeddedServer {
  jobs: JobManager;
  uploads: UploadStore;
  /** Whose the jobs are: the host's own owner, as with the local server. */
  owner: string;
  /**
   * Stops the sandboxes of `mags run` processes that were killed mid-run and fails their jobs
   * (`sweepGoneRuns`); before this one's run, whose workspace one of them may hold.
   */
  sweep(): Promise<JobRecord[]>;
  /** Stops what still runs (recorded as stopped) and closes the state database. */
  close(): Promise<void>;
}

/**
 * The job system inside the CLI process, for a run when no server is running: the same job
 * manager as a server's (run jobs, their output, end reasons, uploads) on the same state
 * database, so the run is a job that `mags list` shows, but no API, no listener, no pool, no warm
 * cache, no long-lived sandboxes and no idle loops; gone when the run ends. It records its jobs
 * and labels its sandboxes with this process (an embedded instance: `currentServerInstance`)
 * like a server does: a server on this host leaves them alone while this process lives, and
 * takes them over (continues them) if it was killed mid-run. It recovers nothing itself: a
 * server's work, dead or alive, is not this process's to touch; only what killed runs left
 * (`sweep`) is stopped.
 */
export function startEmbeddedServer(
  options: { context?: MagsContext; environment?: NodeJS.ProcessEnv } = {},
): EmbeddedServer {
  const context = options.context ?? createMagsContext(options.environment);
  const repository = createSqliteStateRepository(join(context.home, 'state.db'), {
    // Each run leaves the log (see close); ~400 KiB keeps the next open's read of it short.
    walAutocheckpointPages: 100,
  });
  const uploads = new UploadStore({ directory: join(context.home, 'uploads') });
  const instance = currentServerInstance({ embedded: true });
  // The host's own runs: like the local server, no limits on the host's use of itself.
  const jobs = new JobManager({
    context,
    repository,
    maxJobsPerOwner: Number.POSITIVE_INFINITY,
    uploads,
    instance,
  });
  return {
    jobs,
    uploads,
    owner: localOwner,
    sweep: () => sweepGoneRuns({ context, repository, jobs, instance }),
    async close() {
      await jobs.shutdown();
      await repository.close();
    },
  };
}
