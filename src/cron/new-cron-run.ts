import type { CronRunStatus, CronRunTrigger } from '../api/cron.ts';
import { randomId } from '../config/random-id.ts';
import type { CronJobRecord, CronRunRecord } from '../state/state-repository.ts';

/** A run of the cron job, to be recorded (claimCronRun, insertCronRun). */
export function newCronRun(
  cron: CronJobRecord,
  fields: {
    scheduledAt: Date;
    at: Date;
    status: CronRunStatus;
    trigger: CronRunTrigger;
    reason?: string | null;
    missedCount?: number;
    missedCountIsLowerBound?: boolean;
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
    missedCountIsLowerBound: fields.missedCountIsLowerBound ?? false,
    missedUntil: fields.missedUntil?.toISOString() ?? null,
    skippedCount: null,
    skippedUntil: null,
    jobId: null,
  };
}

/** A time for a reason line: ISO without milliseconds when it has none. */
export const showTime = (time: Date | string) =>
  (typeof time === 'string' ? time : time.toISOString()).replace(/\.000Z$/, 'Z');
