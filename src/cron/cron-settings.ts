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
}

export const defaultCronSettings: CronSettings = { maxPerOwner: 100, minIntervalSeconds: 60 };

/** The defaults, what the environment says, then what is given; a bad variable is a clear error. */
export function cronSettings(
  given: Partial<CronSettings> = {},
  environment: NodeJS.ProcessEnv = process.env,
): CronSettings {
  return {
    maxPerOwner: count(environment, 'MAGS_CRON_MAX_PER_OWNER') ?? defaultCronSettings.maxPerOwner,
    minIntervalSeconds:
      count(environment, 'MAGS_CRON_MIN_INTERVAL_SECONDS') ??
      defaultCronSettings.minIntervalSeconds,
    ...given,
  };
}

function count(environment: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = environment[name];
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidInputError(`${name}=${JSON.stringify(value)} is not a whole number.`, {
      code: 'invalid_setting',
      hint: `Set ${name} to 0 or more, or unset it for the default.`,
    });
  }
  return Number(value);
}
