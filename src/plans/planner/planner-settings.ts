/**
 * The planner's settings from the server's environment: how many tries it gets and how long an
 * answer may be. A bad value is the server's misconfiguration, so `checkPlannerSettings` runs
 * when the server starts (it refuses to start, naming the variable) rather than failing plans.
 */
import { MagsError } from '../../errors/mags-error.ts';

export interface PlannerSettings {
  /** Tries before giving up (MAGS_PLAN_PLANNER_ATTEMPTS). */
  maxAttempts: number;
  /** The most tokens one answer may have (MAGS_PLAN_PLANNER_MAX_OUTPUT_TOKENS). */
  maxOutputTokens: number;
}

export const defaultPlannerSettings: PlannerSettings = { maxAttempts: 3, maxOutputTokens: 16_000 };

const limits: Record<keyof PlannerSettings, { variable: string; min: number; max: number }> = {
  maxAttempts: { variable: 'MAGS_PLAN_PLANNER_ATTEMPTS', min: 1, max: 10 },
  maxOutputTokens: { variable: 'MAGS_PLAN_PLANNER_MAX_OUTPUT_TOKENS', min: 1000, max: 200_000 },
};

/** The defaults with the environment's values; a clear error naming a bad variable. */
export function plannerSettings(environment: NodeJS.ProcessEnv): PlannerSettings {
  const settings = { ...defaultPlannerSettings };
  for (const key of Object.keys(limits) as Array<keyof PlannerSettings>) {
    const { variable, min, max } = limits[key];
    const raw = environment[variable];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new MagsError(
        `${variable} is ${JSON.stringify(raw)}: it must be a whole number from ${min} to ${max}.`,
        {
          code: 'invalid_setting',
          statusCode: 500,
          hint: `Fix it in the server's environment, or unset it for the default, ${defaultPlannerSettings[key]}.`,
        },
      );
    }
    settings[key] = value;
  }
  return settings;
}

/** For the server's start: throws on a bad planner variable, before anything runs. */
export function checkPlannerSettings(environment: NodeJS.ProcessEnv = process.env): void {
  plannerSettings(environment);
}
