import type { z } from '@hono/zod-openapi';
import { EnvironmentSchema, StoredRunOptionsSchema } from '../api/run-options.ts';
import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { finishedJobStatuses, type JobRecord } from '../state/state-repository.ts';
import { planRunJob, type RunJobPlan } from './run-job.ts';

/**
 * What the job manager asks of the other servers sharing its state (src/cluster/): where a run
 * goes, telling them of a job's output and changes, following a job another host runs, and
 * asking its host to stop it. Without one (one host on its own state) every job runs here.
 */
export interface JobCluster {
  /**
   * The host a run goes to: undefined for this process (it runs as always), else the id of
   * another host, where it is recorded queued for that host to take. Throws when no host can.
   */
  place(plan: RunJobPlan): Promise<string | undefined>;
  /** A job was recorded queued on `record.host`: that host is told to take it. */
  placed(record: JobRecord): Promise<void>;
  /** A job of this process stored output up to `endOffset`. Never throws. */
  output(jobId: string, endOffset: number): void;
  /** A job of this process changed (created, started, ended). Never throws. */
  changed(record: JobRecord): void;
  /** Watches a job another process runs: `wait` resolves at its next output or change. */
  follow(jobId: string): Promise<{ wait(signal?: AbortSignal): Promise<void>; close(): void }>;
  /**
   * Resolves when this process may record a job's end: at once, unless its host may have been
   * silent, in which case it checks it is still a host first (and, declared gone, stops its jobs).
   */
  confirmHost(): Promise<void>;
  /** Asks the process running `jobId` to stop it (`kill`: at once, without the grace period). */
  requestStop(jobId: string, kill: boolean): Promise<void>;
  /** A host silent this long is gone: how long a job's end is tried again before giving up. */
  readonly hostTimeoutMs: number;
  /**
   * A job's end could not be recorded (the state refused for the host timeout): this host stops
   * heartbeating and lets go of its work, so that the other servers fail its jobs, rather than
   * beat on with a job recorded running forever. Never throws.
   */
  cannotRecord(jobId: string, error: unknown): void;
}

/**
 * A placed run's stored options: the run's own (`StoredRunOptionsSchema`) plus its environment,
 * which the host that takes it needs to start it (a run started here never stores it).
 */
export const PlacedRunOptionsSchema = StoredRunOptionsSchema.extend({
  env: EnvironmentSchema.optional(),
});

export type PlacedRunOptions = z.infer<typeof PlacedRunOptionsSchema>;

/**
 * A run placed on `host`: recorded queued for it, taken by no server yet, its environment kept
 * with its options for the host to start it with.
 */
export function placedRecord(plan: RunJobPlan, host: string): JobRecord {
  const env = plan.request.env;
  return {
    ...plan.record,
    host,
    server: null,
    runOptions: { ...plan.runOptions, ...(env ? { env } : {}) },
  };
}

/**
 * The plan of a run another server placed here and this process took (`claimQueuedJobs`), from
 * its stored options: the same plan a submit here would have made, its record the one stored.
 */
export function planPlacedRun(
  context: MagsContext,
  record: JobRecord,
  instance: ServerInstance | undefined,
): RunJobPlan {
  const { env, ...stored } = PlacedRunOptionsSchema.parse(record.runOptions ?? {});
  const request = { ...stored, ...(env ? { env } : {}), argv: record.argv };
  const plan = planRunJob(context, record.owner, request, instance);
  plan.record = { ...record, ...instance, runOptions: plan.runOptions };
  return plan;
}

export const isFinished = (record: JobRecord) => finishedJobStatuses.includes(record.status);

/**
 * A job's record once it has finished: at once when it has (or nothing else runs jobs), else
 * read again at each of its changes or output (`cluster.follow`). `onWait` runs before each wait
 * (a stop asked again, in case the host took the job only after the first ask).
 */
export async function followUntilFinished(
  cluster: JobCluster | undefined,
  id: string,
  read: () => Promise<JobRecord>,
  onWait?: () => Promise<void>,
): Promise<JobRecord> {
  let record = await read();
  if (!cluster || isFinished(record)) return record;
  const watch = await cluster.follow(id);
  try {
    for (;;) {
      record = await read();
      if (isFinished(record)) return record;
      await onWait?.();
      await watch.wait();
    }
  } finally {
    watch.close();
  }
}
