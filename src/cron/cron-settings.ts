import { definedFields } from '../config/defined-fields.ts';
import { InvalidInputError } from '../errors/mags-error.ts';

/** What one owner may ask of a server's cron jobs, so no tenant floods the job queue with them. */
export interface CronSettings {
  /** Cron jobs one owner may have (MAGS_CRON_MAX_PER_OWNER, default 100). */
  maxPerOwner: number;
  /**
   * The shortest time between two runs a schedule may name, for owners other than the host's own
   * `local` (MAGS_CRON_MIN_INTERVAL_SECONDS, default 60: crontab's own granularity; 0: none).
   * Runs are jobs, so the queue's per-owner limits and fairness apply to them as well.
   */
  minIntervalSeconds: number;
  /**
   * Runs kept per cron job, the newest (MAGS_CRON_HISTORY, default 1,000; at least 1): older
   * ones are deleted as new ones are recorded, so a per-minute cron job's history stays bounded.
   * Consecutive skipped times are one run already (its skippedCount).
   */
  history: number;
}

export const defaultCronSettings: CronSettings = {
  maxPerOwner: 100,
  minIntervalSeconds: 60,
  history: 1000,
};

/**
 * The defaults, what the environment says, then what is given (a field given as undefined
 * leaves the one before in place); a bad variable is a clear error.
 */
export function cronSettings(
  given: Partial<CronSettings> = {},
  environment: NodeJS.ProcessEnv = process.env,
): CronSettings {
  return {
    ...defaultCronSettings,
    ...definedFields({
      maxPerOwner: count(environment, 'MAGS_CRON_MAX_PER_OWNER'),
      minIntervalSeconds: count(environment, 'MAGS_CRON_MIN_INTERVAL_SECONDS'),
      history: count(environment, 'MAGS_CRON_HISTORY', 1),
    }),
    ...definedFields(given),
  };
}

function count(environment: NodeJS.ProcessEnv, name: string, least = 0): number | undefined {
  const value = environment[name];
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < least) {
    throw new InvalidInputError(
      `${name}=${JSON.stringify(value)} is not a whole number of ${least} or more.`,
      {
        code: 'invalid_setting',
        hint: `Set ${name} to ${least} or more, or unset it for the default.`,
      },
    );
  }
  return Number(value);
}
