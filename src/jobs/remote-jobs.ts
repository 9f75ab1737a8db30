import type { JobRecord, LogChunk, StateRepository } from '../state/state-repository.ts';
import { followUntilFinished, isFinished, type JobCluster } from './job-cluster.ts';
import type { LiveJob } from './job-lifecycle.ts';
import { JobLog } from './job-log.ts';

/**
 * What reading, waiting for and stopping jobs that may run in another process (another host of
 * the cluster) need of the job manager (job-manager.ts): where jobs are stored, the jobs this
 * process runs, the cluster, and a job's record as the owner may read it (404 otherwise).
 */
export interface RemoteJobsHost {
  readonly repository: StateRepository;
  readonly live: ReadonlyMap<string, LiveJob>;
  readonly cluster: JobCluster | undefined;
  get(owner: string, id: string): Promise<JobRecord>;
}

/** A job another process runs (or none): its record once finished, followed through the state. */
export function waitElsewhere(
  host: RemoteJobsHost,
  owner: string,
  id: string,
  onWait?: () => Promise<void>,
): Promise<JobRecord> {
  return followUntilFinished(host.cluster, id, () => host.get(owner, id), onWait);
}

/**
 * A job this process does not run: finished already, or run by another host, which is asked
 * (again at each slow poll, in case it took the job only after the first ask) to stop it.
 */
export function stopElsewhere(
  host: RemoteJobsHost,
  owner: string,
  id: string,
  kill: boolean,
): Promise<JobRecord> {
  return waitElsewhere(host, owner, id, async () => host.cluster?.requestStop(id, kill));
}

/**
 * The job's output from `offset` on. With `follow`, it keeps going until the job ends (or
 * `signal` aborts: the client went away); without, it ends at what exists now.
 */
export async function* readJobLog(
  host: RemoteJobsHost,
  owner: string,
  id: string,
  options: { offset: number; follow: boolean; signal?: AbortSignal },
): AsyncGenerator<LogChunk> {
  const first = await host.get(owner, id); // ownership, and 404
  // A job another host runs is followed through the state: its stored output, woken by that
  // host's notifications (or the slow poll), until its record says it finished.
  const elsewhere =
    options.follow && host.cluster && !isFinished(first) && !host.live.has(id)
      ? await host.cluster.follow(id)
      : undefined;
  let offset = options.offset;
  let ended = false;
  try {
    while (!options.signal?.aborted) {
      const live = host.live.get(id);
      const log = live?.log ?? new JobLog(host.repository, id);
      const chunks = await log.read(offset, 1024 * 1024);
      for (const chunk of chunks) {
        yield chunk;
        offset = chunk.offset + chunk.data.length;
      }
      if (chunks.length > 0) continue;
      if (live && options.follow && !(live.log.finished && offset >= live.log.endOffset)) {
        await live.log.waitBeyond(offset, options.signal);
        continue;
      }
      // Its output is stored before its end is: one more read after the end was seen.
      if (!elsewhere || ended || live) return;
      if (isFinished(await host.get(owner, id))) ended = true;
      else await elsewhere.wait(options.signal);
    }
  } finally {
    elsewhere?.close();
  }
}
