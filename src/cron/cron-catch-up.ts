import type { CronSchedule } from '../config/cron-schedule.ts';
import { missedTimes } from '../config/missed-times.ts';
import type { CronJobRecord, CronRunRecord, StateRepository } from '../state/state-repository.ts';
import { newCronRun, showTime } from './new-cron-run.ts';

/**
 * The times a cron job's schedule named while no server ran (after the last time handled, its
 * resumption or its creation, whichever is latest), handled by its catch-up policy: 'skip'
 * records one missed run with their count (a lower bound past about 1,000: counting a
 * per-second schedule's week offline would hold up the server's start) and first and last time;
 * 'once' runs it once, now, for the last of them. Either claims them in the state, so a second
 * server on the same state (or the next start) does not handle them again. Says what it did.
 */
export async function catchUpAtStart(
  record: CronJobRecord,
  schedule: CronSchedule,
  now: Date,
  parts: {
    repository: StateRepository;
    keepRuns: number;
    run(scheduledAt: Date, reason: string): Promise<CronRunRecord | undefined>;
  },
): Promise<'missed' | 'run' | 'none'> {
  const after = Math.max(
    ...[record.lastRunAt, record.resumedAt, record.createdAt]
      .filter((time): time is string => time !== null)
      .map((time) => Date.parse(time)),
  );
  const missed = missedTimes(schedule, new Date(after), now);
  if (!missed) return 'none';
  const count = `${missed.count}${missed.countIsLowerBound ? ' or more' : ''}`;
  const span =
    missed.count === 1
      ? `the time ${showTime(missed.first)}`
      : `${count} times from ${showTime(missed.first)} to ${showTime(missed.last)}`;
  if (record.catchUp === 'once') {
    const run = await parts.run(
      missed.last,
      `catch-up: ${span} passed while no server was running`,
    );
    return run ? 'run' : 'none';
  }
  const run = newCronRun(record, {
    scheduledAt: missed.first,
    at: now,
    status: 'missed',
    trigger: 'catch-up',
    reason: `${span} passed while no server was running (catch-up: skip)`,
    missedCount: missed.count,
    missedCountIsLowerBound: missed.countIsLowerBound,
    missedUntil: missed.last,
  });
  const claimed = await parts.repository.claimCronRun(run, null, { keepRuns: parts.keepRuns });
  return claimed ? 'missed' : 'none';
}
