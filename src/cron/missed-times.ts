import type { CronSchedule } from '../config/cron-schedule.ts';

/** Missed times counted one by one at most: a per-second schedule down for a week stops here. */
export const maxMissedCounted = 10_000;

export interface MissedTimes {
  /** How many (at most `maxMissedCounted`; `more` says there were more). */
  count: number;
  more: boolean;
  first: Date;
  last: Date;
}

/**
 * The times the schedule named after `after` and up to `now` (the ones no server fired: it was
 * not running), or undefined when none. Past `maxMissedCounted` the count stops and the last time
 * is found directly: the one before the schedule's first time after `now`.
 */
export function missedTimes(
  schedule: CronSchedule,
  after: Date,
  now: Date,
): MissedTimes | undefined {
  const first = schedule.nextAfter(after);
  if (!first || first > now) return undefined;
  let last = first;
  let count = 1;
  for (;;) {
    const next = schedule.nextAfter(last);
    if (!next || next > now) return { count, more: false, first, last };
    if (count === maxMissedCounted) {
      return { count, more: true, first, last: lastBefore(schedule, next, now) };
    }
    last = next;
    count++;
  }
}

/** The schedule's last time at or before `now`, given `known`, one at or before it. */
function lastBefore(schedule: CronSchedule, known: Date, now: Date): Date {
  // Windows back from now, doubling, until one holds a time (or reaches `known`); then forward.
  let last = known;
  for (let windowMs = 1000; ; windowMs *= 2) {
    const from = new Date(now.getTime() - windowMs);
    if (from <= known) break;
    const found = schedule.nextAfter(from);
    if (found && found <= now) {
      last = found;
      break;
    }
  }
  for (let next = schedule.nextAfter(last); next && next <= now; next = schedule.nextAfter(last)) {
    last = next;
  }
  return last;
}
