import { type CronSchedule, parseCronSchedule } from '../config/cron-schedule.ts';
import type { CronJobRecord, CronRunRecord, StateRepository } from '../state/state-repository.ts';
import { catchUpAtStart } from './cron-catch-up.ts';
import { failureReason } from './cron-run-start.ts';
import { newCronRun } from './new-cron-run.ts';

/**
 * Claims older than this with no job recorded are a stopped server's: the window between a claim
 * and its job's submission is a moment (a few database writes), so a minute is far past it, yet
 * short enough that the next start, or another server's overlap check, is not held up by a claim
 * that will never be submitted.
 */
export const unsubmittedAfterMs = 60_000;

export interface StartReport {
  armed: number;
  missed: number;
  caughtUp: number;
  /** Cron jobs that could not be armed (a stored row this server cannot read): each logged and recorded as a failed run. */
  failed: number;
}

/**
 * A starting server's cron jobs: runs a stopped server claimed but never submitted are settled,
 * then each unpaused cron job this server fires is caught up to `now` and armed from that same
 * `now` (so no time between the two is lost). One that fails (a stored schedule this version
 * refuses, a database error) is logged and recorded as a failed run with the reason; the others
 * start all the same.
 */
export async function startCronJobs(
  now: Date,
  parts: {
    repository: StateRepository;
    keepRuns: number;
    firesFor(owner: string): boolean;
    log(line: string): void;
    run(
      record: CronJobRecord,
      scheduledAt: Date,
      reason: string,
    ): Promise<CronRunRecord | undefined>;
    arm(record: CronJobRecord, schedule: CronSchedule, after: Date): Promise<void>;
  },
): Promise<StartReport> {
  await parts.repository.failUnsubmittedCronRuns(
    new Date(now.getTime() - unsubmittedAfterMs).toISOString(),
    'the server stopped before the run was submitted as a job',
  );
  const report: StartReport = { armed: 0, missed: 0, caughtUp: 0, failed: 0 };
  for (const record of await parts.repository.activeCronJobs()) {
    if (!parts.firesFor(record.owner)) continue;
    try {
      const schedule = parseCronSchedule(record.schedule, record.timezone);
      const caught = await catchUpAtStart(record, schedule, now, {
        repository: parts.repository,
        keepRuns: parts.keepRuns,
        run: (scheduledAt, reason) => parts.run(record, scheduledAt, reason),
      });
      if (caught === 'missed') report.missed++;
      if (caught === 'run') report.caughtUp++;
      await parts.arm(record, schedule, now);
      report.armed++;
    } catch (error) {
      report.failed++;
      const reason = `not armed at the server's start: ${failureReason(error)}`;
      parts.log(`cron job ${record.name} (${record.owner}): ${reason}`);
      const run = newCronRun(record, {
        scheduledAt: now,
        at: now,
        status: 'failed_to_start',
        trigger: 'schedule',
        reason,
      });
      await parts.repository
        .insertCronRun(run, { keepRuns: parts.keepRuns })
        .catch((recording: unknown) =>
          parts.log(`cron job ${record.name}: recording that failed too: ${String(recording)}`),
        );
    }
  }
  return report;
}
