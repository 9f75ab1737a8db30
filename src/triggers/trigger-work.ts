import type { CreatePlanBody, PlanStatus } from '../api/plans.ts';
import type {
  CreateTicketBody,
  Evidence,
  TicketEvent,
  TicketStatus,
  TokenUsage,
} from '../api/tickets.ts';
import type { FiringRecord, TicketRecord } from '../state/state-repository.ts';
import type { TicketEventListener } from '../tickets/ticket-event-log.ts';

/** What triggers need of the tickets (the TicketManager has it all). */
export interface TriggerTickets {
  create(owner: string, body: CreateTicketBody): Promise<TicketRecord>;
  /** Throws the error `create` would (no model, no key for it), storing nothing. */
  check?(owner: string, body: CreateTicketBody): Promise<void>;
  get(owner: string, id: string): Promise<TicketRecord>;
  comment(
    owner: string,
    id: string,
    comment: { author: string; text: string },
  ): Promise<TicketEvent>;
  approve(owner: string, id: string, options?: { message?: string }): Promise<TicketRecord>;
  evidence(owner: string, id: string): Promise<Evidence>;
  onEvent(listener: TicketEventListener): () => void;
  /** Resolves once the ticket's changes under way are written (its record after its event). */
  settled?(id: string): Promise<void>;
}

/** What triggers need of the plans, when the server has them (`creates: 'plan'`). */
export interface TriggerPlans {
  create(owner: string, body: CreatePlanBody): Promise<{ id: string }>;
  get(owner: string, id: string): Promise<{ status: PlanStatus; usage: TokenUsage }>;
}

/** Where a firing's ticket or plan is: `active` (queued or running), `open` (not yet done), or done. */
export interface WorkState {
  active: boolean;
  open: boolean;
  costUsd: number;
  /** Its id, for reasons. */
  id: string;
}

const doneTicket: readonly TicketStatus[] = ['approved', 'closed', 'failed'];
const activeTicket: readonly TicketStatus[] = ['queued', 'running'];
const donePlan: readonly PlanStatus[] = ['approved', 'closed', 'failed'];
const activePlan: readonly PlanStatus[] = ['planning', 'running', 'integrating'];

/** The state of what a firing created; undefined when it created nothing or it is gone. */
export async function workOf(
  firing: FiringRecord,
  tickets: TriggerTickets,
  plans: TriggerPlans | undefined,
): Promise<WorkState | undefined> {
  try {
    if (firing.ticket) {
      const ticket = await tickets.get(firing.owner, firing.ticket);
      return {
        id: ticket.id,
        active: activeTicket.includes(ticket.status),
        open: !doneTicket.includes(ticket.status),
        costUsd: ticket.usage.costUsd,
      };
    }
    if (firing.plan && plans) {
      const plan = await plans.get(firing.owner, firing.plan);
      return {
        id: firing.plan,
        active: activePlan.includes(plan.status),
        open: !donePlan.includes(plan.status),
        costUsd: plan.usage.costUsd,
      };
    }
  } catch {
    // Deleted with its project: it is neither open nor costs anything now.
  }
  return undefined;
}
