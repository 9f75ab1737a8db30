import { join } from 'node:path';
import { createMagsContext, type MagsContext } from '../context/mags-context.ts';
import { JobManager } from '../jobs/job-manager.ts';
import { UploadStore } from '../jobs/upload-store.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import { localOwner } from '../workspaces/owner-workspace.ts';

export interface EmbeddedServer {
  jobs: JobManager;
  uploads: UploadStore;
  /** Whose the jobs are: the host's own owner, as with the local server. */
  owner: string;
  /**
   * Stops what still runs (recorded as stopped). With `leaveDatabaseOpen`, for a process about
   * to exit, the state database is not closed: a close checkpoints its write-ahead log (fsyncs)
   * and removes it, which the next process to write would create again (fsyncs); the log's
   * committed transactions are as safe without it, and the next opener or a server checkpoints.
   */
  close(options?: { leaveDatabaseOpen?: boolean }): Promise<void>;
}

/**
 * The job system inside the CLI process, for a run when no server is running: the same job
 * manager as a server's (run jobs, their output, end reasons, uploads) on the same state
 * database, so the run is a job that `mags list` shows, but no API, no listener, no pool, no warm
 * cache, no long-lived sandboxes and no idle loops; gone when the run ends. It recovers nothing
 * and sweeps nothing: a server on this host may be running, and its jobs are not this process's
 * to touch.
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
  // The host's own runs: like the local server, no limits on the host's use of itself.
  const jobs = new JobManager({
    context,
    repository,
    maxJobsPerOwner: Number.POSITIVE_INFINITY,
    uploads,
  });
  return {
    jobs,
    uploads,
    owner: localOwner,
    async close({ leaveDatabaseOpen = false } = {}) {
      await jobs.shutdown();
      if (!leaveDatabaseOpen) await repository.close();
    },
  };
}
