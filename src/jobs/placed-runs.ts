import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { requireRuntime } from '../context/select-runtime.ts';
import type { JobRecord, StateRepository } from '../state/state-repository.ts';
import type { Ticket } from './fair-queue.ts';
import type { JobBody } from './job-body.ts';
import { type JobCluster, placedRecord, planPlacedRun } from './job-cluster.ts';
import { refuseFullPlacedQueue } from './placed-queue-limit.ts';
import { insertRunJob, type RunJobPlan } from './run-job.ts';

/**
 * What the runs placed across hosts need of the job manager (job-manager.ts): where jobs are
 * stored, the cluster, its owners' queue, and how it runs and tracks a run job.
 */
export interface PlacedRunsHost {
  readonly context: MagsContext;
  readonly repository: StateRepository;
  readonly instance: ServerInstance | undefined;
  readonly cluster: JobCluster | undefined;
  /** The owner's limit of queued jobs (FairQueue.perOwnerWaiting). */
  readonly perOwnerWaiting: number;
  /** A queued slot of the owner's (FairQueue.enqueue: over the limit, a 429). */
  enqueue(owner: string): Ticket;
  runBody(plan: RunJobPlan, runtime: Awaited<ReturnType<typeof requireRuntime>>): JobBody;
  track(record: JobRecord, ticket: Ticket, body: JobBody): JobRecord;
  failAdopted(record: JobRecord, reason: string): Promise<void>;
}

/**
 * Runs a job another server placed on this host and this process took from the queue
 * (`claimQueuedJobs`): exactly as a run submitted here, from its stored options. One it cannot
 * start (its runtime missing here, its owner's queue full) is failed with why.
 */
export async function runPlaced(host: PlacedRunsHost, record: JobRecord): Promise<JobRecord> {
  try {
    const plan = planPlacedRun(host.context, record, host.instance);
    const runtime = await requireRuntime(host.context, plan.runOptions.runtime);
    const ticket = host.enqueue(record.owner);
    return host.track(plan.record, ticket, host.runBody(plan, runtime));
  } catch (error) {
    const reason = `host ${host.instance?.host} could not start it: ${(error as Error).message}`;
    await host.failAdopted(record, reason);
    host.cluster?.changed(record);
    return { ...record, status: 'failed', reason };
  }
}

/** Records a run placed on another host, queued for it, and tells that host. */
export async function placeOn(
  host: PlacedRunsHost,
  hostId: string,
  plan: RunJobPlan,
): Promise<JobRecord> {
  await refuseFullPlacedQueue(host.repository, plan.record.owner, hostId, host.perOwnerWaiting);
  const record = placedRecord(plan, hostId);
  await insertRunJob(host.repository, record, plan.request);
  await host.cluster?.placed(record);
  return { ...record, runOptions: plan.runOptions };
}
