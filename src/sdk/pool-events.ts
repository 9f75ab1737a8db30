import type { PoolSample } from '../api/pool-events.ts';
import { type FollowChangesOptions, followChanges } from './follow-changes.ts';
import type { LogRequest } from './log-stream.ts';

export type PoolEventsOptions = FollowChangesOptions;

/**
 * The figures of `/v1/pool` as they change, from `GET /v1/pool/events` (Server-Sent Events):
 * the first sample at once, then one when something changed (at least every few seconds).
 * Runs until the caller stops iterating or aborts; a dropped connection is reopened, as every
 * followed list is (`followChanges`).
 */
export function followPoolEvents(
  request: LogRequest,
  options: PoolEventsOptions = {},
): AsyncGenerator<PoolSample> {
  return followChanges<PoolSample>(
    request,
    '/v1/pool/events',
    (event, data) => (event === 'sample' ? (data as PoolSample) : undefined),
    options,
  );
}
