import { InvalidInputError } from '../errors/mags-error.ts';

/** How a server runs plans; every field has a default that suits one host. */
export interface PlanSettings {
  /**
   * Tickets of one owner's plans queued, running or being merged at once, over all their plans
   * (MAGS_PLAN_MAX_PARALLEL_PER_OWNER); the ticket queue's own limits still apply below it.
   */
  maxParallelPerOwner: number;
  /** A plan's `maxParallel` when its request gives none. */
  defaultMaxParallel: number;
}

export const defaultPlanSettings: PlanSettings = { maxParallelPerOwner: 8, defaultMaxParallel: 4 };

/** The defaults, then the environment, then what is given; a clear error for a bad variable. */
export function planSettings(
  given: Partial<PlanSettings> = {},
  environment: NodeJS.ProcessEnv = process.env,
): PlanSettings {
  const fromEnvironment: Partial<PlanSettings> = {};
  const raw = environment.MAGS_PLAN_MAX_PARALLEL_PER_OWNER;
  if (raw !== undefined && raw !== '') {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > 1000) {
      throw new InvalidInputError(
        `MAGS_PLAN_MAX_PARALLEL_PER_OWNER is ${JSON.stringify(raw)}: not a whole number from 1 to 1000.`,
        {
          code: 'invalid_setting',
          hint: "Set it to how many tickets of one owner's plans may run at once (default 8).",
        },
      );
    }
    fromEnvironment.maxParallelPerOwner = value;
  }
  return { ...defaultPlanSettings, ...fromEnvironment, ...given };
}
