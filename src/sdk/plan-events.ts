import type { Plan, PlanEvent, PlanStatus } from '../api/plans.ts';
import type { LogRequest } from './log-stream.ts';
import { followStoredEvents, type StoredEventsOptions } from './stored-events.ts';

/** `follow`: keep streaming until the plan stops moving (see `isPlanSettled`). */
export type PlanEventsOptions = StoredEventsOptions;

/** Statuses in which a plan moves by itself: the planner writes it, tickets run, or it integrates. */
const movingStatuses: readonly PlanStatus[] = ['planning', 'running', 'integrating'];

/**
 * A plan is settled when nothing happens to it until a person acts (a draft to approve, a
 * blocked plan to retry, a result to review) or it has ended (approved, failed, stopped, closed).
 */
export function isPlanSettled(status: PlanStatus): boolean {
  return !movingStatuses.includes(status);
}

/**
 * A plan's events, each once and in order. Followed: Server-Sent Events from
 * `GET /v1/plans/{id}/events?follow=true`, resumed after the last event received when the
 * connection drops; otherwise the stored ones as a JSON list.
 */
export async function* followPlanEvents(
  request: LogRequest,
  planId: string,
  options: PlanEventsOptions = {},
): AsyncGenerator<PlanEvent> {
  const path = `/v1/plans/${encodeURIComponent(planId)}/events`;
  if (!options.follow) {
    const response = await request(`${path}?after=${options.after ?? 0}`, options.signal);
    yield* ((await response.json()) as { events: PlanEvent[] }).events;
    return;
  }
  yield* followStoredEvents<PlanEvent>(
    request,
    (after) => `${path}?after=${after}&follow=true`,
    'plan',
    options,
  );
}

export interface WaitForPlanOptions {
  /** Events after this id (0: from the first). */
  after?: number;
  signal?: AbortSignal;
  /** Whether the plan is where the caller waits for it (default `isPlanSettled`). */
  until?(status: PlanStatus): boolean;
  onEvent?(event: PlanEvent): void;
}

/**
 * Follows a plan until it is settled (`isPlanSettled`, or `until` when given: `plan create` waits
 * only for the planner) and returns it as it is then; each event goes to `onEvent` on the way (a
 * progress line, a live table).
 */
export async function waitForPlan(
  input: {
    request: LogRequest;
    get(id: string): Promise<Plan>;
  },
  planId: string,
  options: WaitForPlanOptions = {},
): Promise<Plan> {
  const done = options.until ?? isPlanSettled;
  const plan = await input.get(planId);
  if (done(plan.status)) return plan;
  for await (const event of followPlanEvents(input.request, planId, {
    after: options.after,
    follow: true,
    signal: options.signal,
  })) {
    options.onEvent?.(event);
    // Replayed events pass through old statuses (a plan blocked, then retried): only the plan as
    // it is now says whether it settled.
    if (event.data.type === 'plan_status' && done(event.data.to)) {
      const now = await input.get(planId);
      if (done(now.status)) return now;
    }
  }
  return input.get(planId);
}
