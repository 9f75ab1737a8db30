import type { CronJob, CronRun } from '../api/cron.ts';
import type { CronJobRecord, CronRunRecord, JobRecord } from '../state/state-repository.ts';

/** A cron job as its owner sees it (the API's `CronJob`): no owner, no resume time. */
export function toCronJobView(record: CronJobRecord): CronJob {
  const { owner: _owner, resumedAt: _resumedAt, ...view } = record;
  return view;
}

/** A run as its owner sees it, with its job's state now (null: no job, or deleted). */
export function toCronRunView(run: CronRunRecord, job: JobRecord | undefined): CronRun {
  const { cronId: _cronId, owner: _owner, ...view } = run;
  return {
    ...view,
    job: job ? { status: job.status, exitCode: job.exitCode, reason: job.reason } : null,
  };
}
