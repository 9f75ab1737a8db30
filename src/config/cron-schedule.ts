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

const hint =
  'Five fields (minute hour day-of-month month day-of-week, e.g. "*/15 * * * *"), six with seconds first, or a name such as @hourly; a time zone is an IANA name such as Europe/Berlin (or UTC).';

/**
 * `timezone` comes back in its canonical spelling (`europe/berlin` → `Europe/Berlin`): store
 * that one. Only IANA names (and UTC) are time zones here: an offset such as `+02:00` has no
 * daylight saving, which is what a person naming a place means.
 */
export function parseCronSchedule(expression: string, timezone = 'UTC'): CronSchedule {
  const zone = canonicalTimezone(timezone);
  if (!zone) {
    throw new InvalidInputError(`${JSON.stringify(timezone)} is not a time zone.`, {
      code: 'invalid_timezone',
      hint,
    });
  }
  const fields = expression.trim().split(/\s+/).length;
  if (!expression.trim().startsWith('@') && (fields < 5 || fields > 6)) {
    throw new InvalidInputError(
      `${JSON.stringify(expression)} is not a cron schedule: it has ${fields} field${fields === 1 ? '' : 's'}, a schedule has five (minute hour day-of-month month day-of-week) or six (seconds first).`,
      { code: 'invalid_schedule', hint },
    );
  }
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true, timezone: zone });
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
    timezone: zone,
    nextAfter: (after) => cron.nextRun(after),
  };
}

/** The IANA name as Intl spells it; undefined for an unknown name or an offset (`+02:00`). */
function canonicalTimezone(name: string): string | undefined {
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  // Intl takes offsets too ("+02:00", resolved as such): a name starts with a letter.
  return /^[A-Za-z]/.test(resolved) ? resolved : undefined;
}
