import type { MagsContext } from '../context/mags-context.ts';
import type { JobRecord, StateRepository } from '../state/state-repository.ts';
import type { Ticket } from './fair-queue.ts';
import type { JobBody } from './job-body.ts';
import type { JobCluster } from './job-cluster.ts';
import { type LiveJob, runJob } from './job-lifecycle.ts';
import { JobLog, type JobLogOptions } from './job-log.ts';
import type { LogRetention } from './log-retention.ts';
import { recordLiveJobEnd } from './record-job-end.ts';

/**
 * What tracking a job needs of the job manager (job-manager.ts): where jobs and their output are
 * stored, the jobs this process runs, the cluster, and whom to tell of a change and of its end.
 */
export interface TrackingHost {
  readonly context: MagsContext;
  readonly repository: StateRepository;
  readonly logOptions: JobLogOptions;
  readonly retention: LogRetention | undefined;
  readonly live: Map<string, LiveJob>;
  readonly cluster: JobCluster | undefined;
  /** This server process (the job's end is written only while the job is its own). */
  readonly server: string | undefined;
  /** The process let go of its jobs (detach) or was declared gone: nothing more is recorded. */
  detached(): boolean;
  changed(record: JobRecord, logBytes: number): void;
  /** Its end was recorded (`record` is the final record; a copy is the listener's). */
  finished(record: JobRecord): void;
}

export interface TrackOptions {
  /** False: it runs at once (an exec), so the returned copy says running. */
  queued?: boolean;
  /** Started by a gone server process: running already, no start to record. */
  adopted: boolean;
  finally?: () => Promise<unknown> | undefined;
}

/**
 * Runs `body` as the job `record` of this process (in `host.live` until its end is recorded): its
 * output stored and followable, its start and end recorded. Returns a copy of its record now.
 */
export function trackJob(
  host: TrackingHost,
  record: JobRecord,
  ticket: Ticket,
  body: JobBody,
  options: TrackOptions,
): JobRecord {
  const quota = host.retention?.forJob(record.owner);
  const log: JobLog = new JobLog(host.repository, record.id, {
    ...host.logOptions,
    ...quota,
    startOffset: record.logBytes,
    // Followers on other servers read the stored output when told it grew.
    onStored: (bytes) => {
      quota?.onStored?.(bytes);
      host.cluster?.output(record.id, log.endOffset);
    },
  });
  const abort = new AbortController();
  const live: LiveJob = {
    record,
    log,
    abort,
    done: Promise.resolve(record),
    finishing: false,
    watchers: new Set(),
  };
  host.live.set(record.id, live);
  const update = async (patch: Partial<JobRecord>) => {
    Object.assign(record, patch);
    await host.repository.updateJob(record.id, patch);
    if (patch.status !== undefined) host.changed(record, log.endOffset);
  };
  let updating: Promise<void> = Promise.resolve();
  live.done = (async () => {
    const result = await runJob({
      live,
      ticket,
      body,
      context: host.context,
      // An adopted job is running already, since its first server started it.
      ...(options.adopted
        ? {}
        : {
            markRunning: async () => {
              // Not over the record of a host found gone while this one waited (see below).
              await host.cluster?.confirmHost();
              if (!host.detached()) await update({ status: 'running', startedAt: now() });
            },
          }),
      announce: (event) => {
        if (event.type === 'started') {
          // On the job as soon as it is known; the job's end is recorded after this write.
          // A state that refuses it now (an outage) is no reason to fail the job: the end's
          // write carries it again (and is tried until it lands).
          updating = update({ sandboxId: event.sandboxId }).catch(() => {});
        }
        for (const watcher of live.watchers) watcher(event);
      },
      detached: () => host.detached(),
      finally: options.finally,
    });
    // Let go of (a detaching shutdown): recorded as running, for the next server process.
    // A host that was silent (frozen, cut off) checks it was not declared gone meanwhile.
    if (result !== undefined) await host.cluster?.confirmHost();
    if (result === undefined || host.detached()) return { ...record };
    live.finishing = true;
    try {
      await updating;
      await recordLiveJobEnd({
        repository: host.repository,
        cluster: host.cluster,
        server: host.server,
        record,
        log,
        end: { sandboxId: record.sandboxId, ...result, finishedAt: now() },
        changed: (logBytes) => host.changed(record, logBytes),
      });
    } finally {
      quota?.close(); // its output now counts as finished output, which retention may remove
    }
    host.live.delete(record.id);
    host.finished(record);
    return { ...record };
  })();
  // The returned copy is the state at submission: queued (or running, for exec).
  if (options.queued === false) Object.assign(record, { status: 'running', startedAt: now() });
  host.changed(record, log.endOffset);
  return { ...record };
}

const now = () => new Date().toISOString();
