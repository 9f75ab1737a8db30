import type { z } from '@hono/zod-openapi';
import { EnvironmentSchema, StoredRunOptionsSchema } from '../api/run-options.ts';
import type { JobRecord } from '../state/state-repository.ts';
import type { RunJobPlan } from './run-job.ts';

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
  /** A job of this process changed (status, end). Never throws. */
  changed(jobId: string): void;
  /** Watches a job another process runs: `wait` resolves at its next output or change. */
  follow(jobId: string): Promise<{ wait(signal?: AbortSignal): Promise<void>; close(): void }>;
  /** Asks the process running `jobId` to stop it (`kill`: at once, without the grace period). */
  requestStop(jobId: string, kill: boolean): Promise<void>;
}

/**
 * A placed run's stored options: the run's own (`StoredRunOptionsSchema`) plus its environment,
 * which the host that takes it needs to start it (a run started here never stores it).
 */
export const PlacedRunOptionsSchema = StoredRunOptionsSchema.extend({
  env: EnvironmentSchema.optional(),
});

export type PlacedRunOptions = z.infer<typeof PlacedRunOptionsSchema>;
