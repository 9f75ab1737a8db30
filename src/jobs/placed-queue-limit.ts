import { RateLimitError } from '../errors/mags-error.ts';
import type { StateRepository } from '../state/state-repository.ts';

/**
 * Refuses a run about to be placed on `host` when `owner` already has `perOwnerWaiting` runs
 * queued there, as recorded in the shared state: that host's FairQueue would refuse it when it
 * takes it, and the owner would get a failed job instead of a 429 (and a burst through an
 * API-only server would fill the table). The same refusal a submit to that host gives. Servers
 * placing at the same moment may each pass the check; the host still fails that small excess.
 */
export async function refuseFullPlacedQueue(
  repository: StateRepository,
  owner: string,
  host: string,
  perOwnerWaiting: number,
  retryAfterSeconds = 5,
): Promise<void> {
  let queuedThere = 0;
  let cursor: string | undefined;
  // Newest first, page by page, only until the limit is reached (an owner's queue is bounded).
  do {
    const page = await repository.listJobs({
      owner,
      status: 'queued',
      limit: 200,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    queuedThere += page.jobs.filter((job) => job.host === host).length;
    if (queuedThere > 0 && queuedThere >= perOwnerWaiting) {
      throw new RateLimitError(
        `Owner ${JSON.stringify(owner)} already has ${queuedThere} jobs queued on host ${host}, the most one owner may.`,
        {
          code: 'owner_limit_reached',
          limit: 'queued_jobs',
          limitValue: perOwnerWaiting,
          retryAfterSeconds,
          hint: 'Wait for some to finish (mags list --status queued), or stop some (mags stop ID).',
        },
      );
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}
