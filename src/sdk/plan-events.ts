import { isPlanMoving } from '../api/plan-moving.ts';
import type { Plan, PlanEvent } from '../api/plans.ts';
import type { LogRequest } from './log-stream.ts';
import { followStoredEvents, type StoredEventsOptions } from './stored-events.ts';

/**
 * `follow`: keep streaming until the plan stops moving (see `isPlanSettled`). `after: 'latest'`:
 * none of the events stored so far, only those to come (a caller that read the plan already).
 */
export type PlanEventsOptions = Omit<StoredEventsOptions, 'after'> & { after?: number | 'latest' };

/**
 * A plan is settled when nothing happens to it until a person acts (a draft to approve, a
 * blocked plan to retry, a result to review) or it has ended (approved, failed, stopped, closed).
 * A draft with `auto` is not: the server approves it right after it is written. The server's
 * followers use the same predicate (`isPlanMoving` of the API's schemas).
 */
export function isPlanSettled(plan: Pick<Plan, 'status' | 'auto'>): boolean {
  return !isPlanMoving(plan);
}

/**
 * A plan's events, each once and in order: Server-Sent Events from `GET /v1/plans/{id}/events`
 * (as a ticket's), resumed after the last event received when the connection drops; with
 * `follow`, until the plan is settled.
 */
export function followPlanEvents(
  request: LogRequest,
  planId: string,
  options: PlanEventsOptions = {},
): AsyncGenerator<PlanEvent> {
  const path = `/v1/plans/${encodeURIComponent(planId)}/events`;
  const latest = options.after === 'latest';
  return followStoredEvents<PlanEvent>(
    request,
    // From the newest until an event came (0 then still means none received).
    (after) =>
      `${path}?after=${latest && after === 0 ? 'latest' : after}&follow=${options.follow ?? false}`,
    'plan',
    { ...options, after: latest ? 0 : (options.after as number | undefined) },
  );
}

export interface WaitForPlanOptions {
  /** Events after this id (0: from the first). */
  after?: number;
  signal?: AbortSignal;
  /**
   * Whether the plan is where the caller waits for it (default: settled, `isPlanSettled`); asked
   * of the plan as it is after each status change.
   */
  until?(plan: Pick<Plan, 'status' | 'auto'>): boolean;
  onEvent?(event: PlanEvent): void;
}

/**
 * Follows a plan's events (from `after`) until it is settled (`isPlanSettled`, or `until` when
 * given: `plan create` waits only for the planner) and returns it as it is then; each event goes
 * to `onEvent` on the way (a progress line, a live table).
 */
export async function waitForPlan(
  input: {
    request: LogRequest;
    get(id: string): Promise<Plan>;
  },
  planId: string,
  options: WaitForPlanOptions = {},
): Promise<Plan> {
  const until = options.until;
  let auto: boolean | undefined;
  // Followed even when it is settled already: `onEvent` sees what happened (a planner that was
  // done before the caller asked still shows its tries). The server ends the stream once the plan
  // is settled; an `until` of the caller's own is checked on each status change, against the plan
  // as it is now (a replayed event may be an old status, and `auto` is on the plan, not the event).
  for await (const event of followPlanEvents(input.request, planId, {
    after: options.after,
    follow: true,
    signal: options.signal,
  })) {
    options.onEvent?.(event);
    if (until && event.data.type === 'plan_status') {
      // The event's status first (a replayed `planning` must not end the wait before the
      // planner's tries are told), with `auto` as the plan has it; then the plan as it is now.
      auto ??= (await input.get(planId)).auto;
      if (until({ status: event.data.to, auto })) {
        const now = await input.get(planId);
        if (until(now)) return now;
      }
    }
  }
  return input.get(planId);
}
