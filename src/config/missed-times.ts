import type { CronSchedule } from './cron-schedule.ts';

/**
 * Missed times counted one by one at most: past it the count is a lower bound and the last time
 * is found directly, so a per-second schedule down for a week costs a server's start about a
 * thousand schedule steps, not 600,000.
 */
export const maxMissedCounted = 1000;

export interface MissedTimes {
  /** How many times were missed; at most the cap, then `countIsLowerBound`. */
  count: number;
  /** True when counting stopped at the cap: there were more. */
  countIsLowerBound: boolean;
  first: Date;
  last: Date;
}

/**
 * The times the schedule named after `after` and up to `now` (the ones no server fired: it was
 * not running, or the schedule was paused), or undefined when none. Shared by cron jobs' and
 * triggers' catch-up. Past `maxCounted` (default `maxMissedCounted`) the count stops and the
 * last time is found directly: the schedule's last time at or before `now`.
 */
export function missedTimes(
  schedule: CronSchedule,
  after: Date,
  now: Date,
  options: { maxCounted?: number } = {},
): MissedTimes | undefined {
  const maxCounted = Math.max(1, options.maxCounted ?? maxMissedCounted);
  const first = schedule.nextAfter(after);
  if (!first || first > now) return undefined;
  let last = first;
  let count = 1;
  for (;;) {
    const next = schedule.nextAfter(last);
    if (!next || next > now) return { count, countIsLowerBound: false, first, last };
    if (count === maxCounted) {
      return { count, countIsLowerBound: true, first, last: lastAtOrBefore(schedule, next, now) };
    }
    last = next;
    count++;
  }
}

/**
 * The schedule's last time at or before `now`, given `known`, one at or before it: windows back
 * from `now`, doubling, until one holds a time (or reaches `known`), then a binary search of that
 * window, so the steps grow with the logarithm of the gap and not with the times in it.
 */
function lastAtOrBefore(schedule: CronSchedule, known: Date, now: Date): Date {
  const namesOneBy = (afterMs: number) => {
    const found = schedule.nextAfter(new Date(afterMs));
    return found !== null && found <= now;
  };
  // Invariant: the first time after `low` is at or before now; the first after `high` is not.
  let high = now.getTime();
  let low = known.getTime() - 1;
  for (let windowMs = 1000; now.getTime() - windowMs > low; windowMs *= 2) {
    const from = now.getTime() - windowMs;
    if (namesOneBy(from)) {
      low = from;
      break;
    }
    high = from;
  }
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (namesOneBy(middle)) low = middle;
    else high = middle;
  }
  return schedule.nextAfter(new Date(low)) ?? known;
}
