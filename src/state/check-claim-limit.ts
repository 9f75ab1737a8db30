import { InvalidInputError } from '../errors/mags-error.ts';

/** How many jobs a host may take: a whole number, 0 when it has no room. */
export function checkClaimLimit(limit: number): void {
  if (Number.isInteger(limit) && limit >= 0) return;
  throw new InvalidInputError(
    `Cannot claim ${limit} queued jobs: the limit is a whole number of jobs, 0 or more.`,
    { hint: 'Pass the free job slots of the host (maxJobs minus runningJobs).' },
  );
}
