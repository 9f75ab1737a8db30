import { join } from 'node:path';
import { createMagsContext, type MagsContext } from '../context/mags-context.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import { localOwner } from '../workspaces/owner-workspace.ts';
import type { ServerServices } from './server-env.ts';
import { createServerServices } from './server-services.ts';

export interface EmbeddedServer {
  services: ServerServices;
  /** Whose the requests are: the host's own owner, as with the local server. */
  owner: string;
  /** Stops what still runs (recorded as stopped) and closes the state database. */
  close(): Promise<void>;
}

/**
 * The job system inside the CLI process, for a run when no server is running: the same
 * managers as a server (`createServerServices`) on the same state database, so the run is a job
 * that `mags list` shows, but no listener, no pool, no warm cache and no idle loops; gone when
 * the run ends. It recovers nothing and sweeps nothing: a server on this host may be running, and
 * its jobs are not this process's to touch.
 */
export function startEmbeddedServer(
  options: { context?: MagsContext; environment?: NodeJS.ProcessEnv } = {},
): EmbeddedServer {
  const context = options.context ?? createMagsContext(options.environment);
  const repository = createSqliteStateRepository(join(context.home, 'state.db'));
  const services = createServerServices({
    context,
    repository,
    // The host's own runs: like the local server, no limits on the host's use of itself.
    perOwner: { runningJobs: Number.POSITIVE_INFINITY, sandboxes: Number.POSITIVE_INFINITY },
    disks: {
      maxDiskMiB: Number.POSITIVE_INFINITY,
      ownerDiskQuotaMiB: Number.POSITIVE_INFINITY,
    },
    sleepAfterMs: 0,
    acceptLocalOwner: true,
    inProcessOwner: localOwner,
  });
  return {
    services,
    owner: localOwner,
    async close() {
      await services.jobs.shutdown();
      await services.sandboxes.shutdown();
      await repository.close();
    },
  };
}
