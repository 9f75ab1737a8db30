import type { CronSpec } from '../api/cron.ts';
import { type CronSchedule, parseCronSchedule } from '../config/cron-schedule.ts';
import { InvalidInputError } from '../errors/mags-error.ts';

/** Consecutive times compared for the shortest interval a schedule names. */
const intervalSamples = 10;

/**
 * Checks what a new cron job asks before anything is recorded: the schedule and its time zone
 * (parseCronSchedule's errors), that it names a time to come, that it is not more frequent than
 * `minIntervalSeconds` allows (0: any), and that the options fit together. Returns the schedule.
 */
export function checkCronSpec(
  spec: CronSpec,
  options: { minIntervalSeconds: number; now: Date },
): CronSchedule {
  const schedule = parseCronSchedule(spec.schedule, spec.timezone);
  const first = schedule.nextAfter(options.now);
  if (!first) {
    throw new InvalidInputError(
      `The schedule ${JSON.stringify(spec.schedule)} names no time after now.`,
      { code: 'invalid_schedule', hint: 'Give a schedule that repeats, e.g. "0 3 * * *".' },
    );
  }
  if (options.minIntervalSeconds > 0) {
    const shortestMs = shortestInterval(schedule, first);
    if (shortestMs !== undefined && shortestMs < options.minIntervalSeconds * 1000) {
      throw new InvalidInputError(
        `The schedule ${JSON.stringify(spec.schedule)} runs every ${shortestMs / 1000} s; this server allows runs at most every ${options.minIntervalSeconds} s.`,
        {
          code: 'schedule_too_frequent',
          hint: `Use a schedule at most once per ${options.minIntervalSeconds} s (five fields name minutes, e.g. "*/5 * * * *"); the server's MAGS_CRON_MIN_INTERVAL_SECONDS sets the limit.`,
        },
      );
    }
  }
  if (spec.persist && spec.workspace === null) {
    throw new InvalidInputError(
      '-p (--persist) needs a workspace (-w): only a workspace is synced.',
      {
        code: 'persist_without_workspace',
        hint: 'Give the workspace (-w NAME) with -p.',
      },
    );
  }
  if (spec.allowOverlap && spec.workspace !== null) {
    throw new InvalidInputError(
      `--allow-overlap cannot go with -w: runs on workspace ${JSON.stringify(spec.workspace)} would be refused while another writes it.`,
      {
        code: 'overlap_with_workspace',
        hint: 'Drop --allow-overlap (an overlapping time is then recorded as skipped), or let each run have a fresh sandbox (no -w).',
      },
    );
  }
  return schedule;
}

/** The shortest gap between the schedule's next few times, from `first`, in milliseconds. */
function shortestInterval(schedule: CronSchedule, first: Date): number | undefined {
  let shortest: number | undefined;
  let previous = first;
  for (let index = 1; index < intervalSamples; index++) {
    const next = schedule.nextAfter(previous);
    if (!next) break;
    const gap = next.getTime() - previous.getTime();
    shortest = shortest === undefined ? gap : Math.min(shortest, gap);
    previous = next;
  }
  return shortest;
}
