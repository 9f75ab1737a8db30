import { Cron } from 'croner';
import { InvalidInputError } from '../errors/mags-error.ts';

/**
 * A cron schedule (five fields, or six with seconds first; `@hourly`-style names), in an IANA
 * time zone (default UTC, so a schedule means the same on every host). Checked once, here, with
 * an error that says what is wrong; then only asked for the next time after a given one.
 * The parsing is croner's (maintained, no dependencies): we never run its timers, the callers
 * keep their own (one per server, re-armed from the state database after a restart).
 */
export interface CronSchedule {
  readonly expression: string;
  readonly timezone: string;
  /** The first time strictly after `after` that the schedule names; null if it names none. */
  nextAfter(after: Date): Date | null;
}

export function parseCronSchedule(expression: string, timezone = 'UTC'): CronSchedule {
  const hint =
    'Five fields (minute hour day-of-month month day-of-week, e.g. "*/15 * * * *"), six with seconds first, or a name such as @hourly; a time zone is an IANA name such as Europe/Berlin.';
  if (!isTimezone(timezone)) {
    throw new InvalidInputError(`${JSON.stringify(timezone)} is not a time zone.`, {
      code: 'invalid_timezone',
      hint,
    });
  }
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true, timezone });
    cron.nextRun(); // some errors show only when a date is computed
  } catch (error) {
    const reason = (error as Error).message.replace(/^Cron\w*:\s*/, '');
    throw new InvalidInputError(`${JSON.stringify(expression)} is not a cron schedule: ${reason}`, {
      code: 'invalid_schedule',
      hint,
    });
  }
  return {
    expression,
    timezone,
    nextAfter: (after) => cron.nextRun(after),
  };
}

function isTimezone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
