import type { CronSchedule } from '../config/cron-schedule.ts';
import { checkCronSpec } from '../cron/cron-spec-checks.ts';
import { InvalidInputError, MagsError, QuotaExceededError } from '../errors/mags-error.ts';

/** What one owner may ask of a server's triggers, so no tenant floods it (as cron-settings.ts). */
export interface TriggerSettings {
  /** Triggers one owner may have (MAGS_TRIGGER_MAX_PER_OWNER, default 100). */
  maxPerOwner: number;
  /**
   * The shortest time between two firings a schedule may name, for owners other than the host's
   * own `local` (MAGS_TRIGGER_MIN_INTERVAL_SECONDS, default 60; 0: none). Each firing may start
   * an agent, so a per-second schedule is not for a shared server.
   */
  minIntervalSeconds: number;
}

export const defaultTriggerSettings: TriggerSettings = { maxPerOwner: 100, minIntervalSeconds: 60 };

/** The defaults, what the environment says, then what is given; a bad variable is a clear error. */
export function triggerSettings(
  given: Partial<TriggerSettings> = {},
  environment: NodeJS.ProcessEnv = process.env,
): TriggerSettings {
  return {
    maxPerOwner:
      count(environment, 'MAGS_TRIGGER_MAX_PER_OWNER') ?? defaultTriggerSettings.maxPerOwner,
    minIntervalSeconds:
      count(environment, 'MAGS_TRIGGER_MIN_INTERVAL_SECONDS') ??
      defaultTriggerSettings.minIntervalSeconds,
    ...given,
  };
}

/**
 * A trigger's schedule checked as a cron job's is (checkCronSpec: a time to come, not more often
 * than `minIntervalSeconds`), with the trigger's setting named in the hint.
 */
export function checkTriggerSchedule(
  schedule: { cron: string; timezone: string },
  options: { minIntervalSeconds: number; now: Date },
): CronSchedule {
  try {
    return checkCronSpec(
      {
        schedule: schedule.cron,
        timezone: schedule.timezone,
        persist: false,
        workspace: null,
        allowOverlap: false,
      } as Parameters<typeof checkCronSpec>[0],
      options,
    );
  } catch (error) {
    if (error instanceof MagsError && error.code === 'schedule_too_frequent') {
      throw new InvalidInputError(error.message.replace('runs at most', 'fires triggers at most'), {
        code: 'schedule_too_frequent',
        hint: `Use a schedule at most once per ${options.minIntervalSeconds} s (five fields name minutes, e.g. "*/5 * * * *"); the server's MAGS_TRIGGER_MIN_INTERVAL_SECONDS sets the limit.`,
      });
    }
    throw error;
  }
}

/** Refuses a new trigger past the owner's limit. */
export function checkTriggerCount(count: number, settings: TriggerSettings): void {
  if (count < settings.maxPerOwner) return;
  throw new QuotaExceededError(
    `You have ${count} triggers, the most this server allows an owner (${settings.maxPerOwner}).`,
    {
      code: 'trigger_limit',
      hint: 'Remove one you no longer need (mags trigger remove NAME); the server sets the limit with MAGS_TRIGGER_MAX_PER_OWNER.',
    },
  );
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
