import type { JobRecord, JobUpdate, StateRepository } from '../state/state-repository.ts';
import type { JobCluster } from './job-cluster.ts';
import type { JobLog } from './job-log.ts';

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

/**
 * A job's end, its record's last write (`recordJobEnd`): its output first, then the end; tried
 * again while the state refuses; not written over what another process recorded meanwhile (a
 * sweep that failed it), which is then what `record` here shows. Throws when the state refused
 * for the host timeout, after telling the cluster (this host then stops heartbeating, see
 * `cannotRecord`). `changed`: the end was written, with the job's output bytes.
 */
export async function recordLiveJobEnd(options: {
  repository: StateRepository;
  cluster: JobCluster | undefined;
  server: string | undefined;
  record: JobRecord;
  log: JobLog;
  end: Partial<JobRecord>;
  changed(logBytes: number): void;
}): Promise<void> {
  const { record, log, end } = options;
  const say = (line: string) => process.stderr.write(`mags server: ${line}\n`);
  const untilMs = performance.now() + (options.cluster?.hostTimeoutMs ?? 15_000);
  let recorded: JobEndRecorded;
  try {
    // Its output first (a batch the state refused stays for the next flush): then the end.
    // Ended here at once, before the log's end wakes its followers: a follower that sees the
    // log finished reads the end on the record (before its write lands, and never `running`).
    await retryWhileStateRefuses(
      () =>
        log.finish(() => {
          end.logBytes = log.endOffset;
          Object.assign(record, end);
        }),
      { untilMs, what: `the output of job ${record.id}`, log: say },
    );
    recorded = await recordJobEnd({
      repository: options.repository,
      id: record.id,
      server: options.server,
      end,
      untilMs,
      log: say,
    });
  } catch (error) {
    say(`cannot record the end of job ${record.id}: ${(error as Error).message}`);
    options.cluster?.cannotRecord(record.id, error);
    throw error;
  }
  if (recorded === 'written') {
    options.changed(end.logBytes ?? record.logBytes);
    return;
  }
  say(
    `job ${record.id} ended here (${end.status}) but its record is no longer this process's to end (another server recorded it, e.g. failed it while this host was silent): its end here is dropped`,
  );
  const stored = await options.repository.getJob(record.owner, record.id).catch(() => undefined);
  Object.assign(record, stored ?? end);
}
