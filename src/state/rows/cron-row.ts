import type { CronSpec } from '../../api/cron.ts';
import type {
  BusyCronRun,
  CronJobRecord,
  CronJobUpdate,
  CronRunRecord,
  CronRunUpdate,
} from '../state-repository.ts';
import { flag, nullableNumber, type StateRow, text } from './row-values.ts';

/** The column of each field a cron job's update may set. */
export const cronColumns: Record<keyof CronJobUpdate, string> = {
  paused: 'paused',
  lastRunAt: 'last_run_at',
  nextRunAt: 'next_run_at',
  resumedAt: 'resumed_at',
  updatedAt: 'updated_at',
};

/** The column of each field a cron run's update may set. */
export const cronRunColumns: Record<keyof CronRunUpdate, string> = {
  status: 'status',
  reason: 'reason',
  jobId: 'job_id',
};

/** The part of a cron job stored as its `spec` JSON. */
export function specOf(cron: CronJobRecord): CronSpec {
  return {
    schedule: cron.schedule,
    timezone: cron.timezone,
    command: cron.command,
    workspace: cron.workspace,
    persist: cron.persist,
    network: cron.network,
    timeoutSeconds: cron.timeoutSeconds,
    allowOverlap: cron.allowOverlap,
    catchUp: cron.catchUp,
  };
}

export function toCronJob(row: StateRow): CronJobRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    name: String(row.name),
    ...(JSON.parse(String(row.spec)) as CronSpec),
    paused: flag(row.paused),
    lastRunAt: text(row.last_run_at),
    nextRunAt: text(row.next_run_at),
    resumedAt: text(row.resumed_at),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

export function toCronRun(row: StateRow): CronRunRecord {
  return {
    id: String(row.id),
    cronId: String(row.cron_id),
    owner: String(row.owner),
    scheduledAt: String(row.scheduled_at),
    at: String(row.at),
    status: row.status as CronRunRecord['status'],
    trigger: row.trigger as CronRunRecord['trigger'],
    reason: text(row.reason),
    missedCount: nullableNumber(row.missed_count),
    missedCountIsLowerBound: flag(row.missed_count_is_lower_bound),
    missedUntil: text(row.missed_until),
    skippedCount: nullableNumber(row.skipped_count),
    skippedUntil: text(row.skipped_until),
    jobId: text(row.job_id),
  };
}

/** The run that keeps a cron job busy, read with its job's status (`job_status`). */
export function toBusyCronRun(row: StateRow): BusyCronRun {
  return {
    scheduledAt: String(row.scheduled_at),
    trigger: row.trigger as BusyCronRun['trigger'],
    jobId: text(row.job_id),
    jobStatus: text(row.job_status),
  };
}
