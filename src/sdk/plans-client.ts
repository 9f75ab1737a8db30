import type {
  CreatePlanBody,
  EditPlanBody,
  Plan,
  PlanEvent,
  PlanEvidence,
  PlanSpec,
  PlanStatus,
} from '../api/plans.ts';
import type { Budget } from '../api/tickets.ts';
import {
  followPlanEvents,
  type PlanEventsOptions,
  type WaitForPlanOptions,
  waitForPlan,
} from './plan-events.ts';
import {
  followPlanChanges,
  type PlanChange,
  type PlanChangesOptions,
} from './plan-workspace-changes.ts';
import type { TicketTransport } from './tickets-client.ts';

const planPath = (id: string) => `/v1/plans/${encodeURIComponent(id)}`;

/** `mags.plans`: plans of tickets run in parallel (`/v1/plans`), typed from the server's schemas. */
export function plansClient(transport: TicketTransport) {
  const { json } = transport;
  const get = (id: string): Promise<Plan> => json('GET', planPath(id));
  return {
    /**
     * A plan of a request: `planning` while the planner model writes it, then a `draft` to
     * approve (or running at once with `auto`); with `spec`, a draft at once.
     */
    create: (body: CreatePlanBody): Promise<Plan> => json('POST', '/v1/plans', body),
    list: async (filter: { project?: string; status?: PlanStatus } = {}): Promise<Plan[]> => {
      const query = new URLSearchParams(
        Object.entries(filter).filter((entry): entry is [string, string] => entry[1] !== undefined),
      ).toString();
      return (await json<{ plans: Plan[] }>('GET', `/v1/plans${query ? `?${query}` : ''}`)).plans;
    },
    get,
    /**
     * The list, then each plan as it is made, edited, or changes status, progress or usage
     * (`GET /v1/plans?follow=true`), until `signal` aborts.
     */
    follow: (options: PlanChangesOptions = {}): AsyncGenerator<PlanChange> =>
      followPlanChanges(transport.send, options),
    /**
     * Replaces a draft's summary and tickets (checked as the planner's are); `ifUpdatedAt` (the
     * plan's `updatedAt` as read) makes it a ConflictError `plan_changed` if it changed since.
     */
    editSpec: (id: string, spec: PlanSpec, options: { ifUpdatedAt?: string } = {}): Promise<Plan> =>
      json('PUT', `${planPath(id)}/spec`, {
        ...spec,
        ...(options.ifUpdatedAt !== undefined && { ifUpdatedAt: options.ifUpdatedAt }),
      } satisfies EditPlanBody),
    /** A draft starts running; a plan awaiting review becomes branch `mags/plan-<id>`. */
    approve: (
      id: string,
      options: { message?: string; authorName?: string; authorEmail?: string } = {},
    ): Promise<Plan> =>
      json('POST', `${planPath(id)}/approve`, Object.keys(options).length ? options : undefined),
    /**
     * Runs one of its tickets again, by key or ticket id; `budget` is merged into the ticket's. A
     * ticket in conflict starts from the conflicting merge to resolve it (`resolve: false`: merge again).
     */
    retry: (
      id: string,
      ticket: string,
      options: { budget?: Budget; resolve?: boolean } = {},
    ): Promise<Plan> =>
      json('POST', `${planPath(id)}/retry`, {
        ticket,
        ...(options.budget && { budget: options.budget }),
        ...(options.resolve !== undefined && { resolve: options.resolve }),
      }),
    stop: (id: string, options: { reason?: string } = {}): Promise<Plan> =>
      json('POST', `${planPath(id)}/stop`, options.reason ? { reason: options.reason } : undefined),
    close: (id: string): Promise<Plan> => json('POST', `${planPath(id)}/close`),
    /** The integration's evidence: combined diff, tests, every ticket's criteria. */
    evidence: (id: string): Promise<PlanEvidence> => json('GET', `${planPath(id)}/evidence`),
    /** The approved plan as git bundle bytes (branch `mags/plan-<id>`). */
    bundle: async (id: string): Promise<Uint8Array> => {
      const response = await transport.send(`${planPath(id)}/bundle`, undefined);
      return new Uint8Array(await response.arrayBuffer());
    },
    /** Its events in order; with `follow`, live until it is settled. */
    events: (id: string, options: PlanEventsOptions = {}): AsyncGenerator<PlanEvent> =>
      followPlanEvents(transport.send, id, options),
    /**
     * Resolves with the plan once it is settled: a draft to approve, blocked, awaiting review, or
     * ended (approved, failed, stopped, closed).
     */
    wait: (id: string, options: WaitForPlanOptions = {}): Promise<Plan> =>
      waitForPlan({ request: transport.send, get }, id, options),
  };
}

export type PlansClient = ReturnType<typeof plansClient>;
