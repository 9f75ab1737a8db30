import type { JobUpdate, StateRepository } from '../state/state-repository.ts';

/** How a job's end was recorded: written, or not (another process recorded it first). */
export type JobEndRecorded = 'written' | 'not-ours';

const firstRetryMs = 100;
const longestRetryMs = 2000;

/**
 * Runs `work` (a write to the state) until it succeeds, waiting longer each time (100 ms doubling
 * up to 2 s) while the state refuses (PostgreSQL restarting, a failover, a connection reset), up
 * to `untilMs` (`performance.now()` time): then throws the last error. `what` names it in the log.
 */
export async function retryWhileStateRefuses<T>(
  work: () => Promise<T>,
  options: { untilMs: number; what: string; log(line: string): void },
): Promise<T> {
  for (let waitMs = firstRetryMs; ; waitMs = Math.min(2 * waitMs, longestRetryMs)) {
    try {
      return await work();
    } catch (error) {
      if (performance.now() + waitMs > options.untilMs) throw error;
      options.log(
        `cannot record ${options.what} (${(error as Error).message}): trying again in ${waitMs} ms`,
      );
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}

/**
 * Writes a job's end, the last write of its record: conditional on the job being unfinished and
 * this process's (`updateUnfinishedJob`; `server` undefined: a job system without an instance,
 * unconditional), so that an end arriving late never overwrites what a sweep recorded meanwhile;
 * tried again while the state refuses (one failed write would leave the job running forever on a
 * live host).
 */
export function recordJobEnd(options: {
  repository: StateRepository;
  id: string;
  server: string | undefined;
  end: JobUpdate;
  untilMs: number;
  log(line: string): void;
}): Promise<JobEndRecorded> {
  const { repository, id, server, end } = options;
  return retryWhileStateRefuses(
    async () => {
      if (server === undefined) {
        await repository.updateJob(id, end);
        return 'written';
      }
      return (await repository.updateUnfinishedJob(id, server, end)) ? 'written' : 'not-ours';
    },
    { untilMs: options.untilMs, what: `the end of job ${id}`, log: options.log },
  );
}
