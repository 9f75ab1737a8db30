import type { CronJob, CronRun, CronRunStatus, CronRunTrigger } from '../api/cron.ts';
import type { RunJobBody } from '../api/schemas.ts';
import { randomId } from '../config/random-id.ts';
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

export function newCronRun(
  cron: CronJobRecord,
  fields: {
    scheduledAt: Date;
    at: Date;
    status: CronRunStatus;
    trigger: CronRunTrigger;
    reason?: string | null;
    missedCount?: number;
    missedUntil?: Date;
  },
): CronRunRecord {
  return {
    id: randomId('crr_'),
    cronId: cron.id,
    owner: cron.owner,
    scheduledAt: fields.scheduledAt.toISOString(),
    at: fields.at.toISOString(),
    status: fields.status,
    trigger: fields.trigger,
    reason: fields.reason ?? null,
    missedCount: fields.missedCount ?? null,
    missedUntil: fields.missedUntil?.toISOString() ?? null,
    jobId: null,
  };
}

/** What a run submits: the same body as `POST /v1/jobs` takes (`mags run` sends). */
export function cronJobBody(cron: CronJobRecord): RunJobBody {
  return {
    command: cron.command,
    ...(cron.workspace !== null && { workspace: cron.workspace }),
    ...(cron.persist && { persist: true }),
    network: cron.network,
    ...(cron.timeoutSeconds !== null && { timeoutSeconds: cron.timeoutSeconds }),
  };
}

/** The origin its jobs carry (`mags list` shows it). */
export const cronOrigin = (cron: CronJobRecord) => `cron:${cron.name}`;

/** A time for a reason line: ISO without milliseconds when it has none. */
export const showTime = (time: Date | string) =>
  (typeof time === 'string' ? time : time.toISOString()).replace(/\.000Z$/, 'Z');
