import type { EditPlanBody, PlanTicket } from '../api/plans.ts';
import type { CreateTicketBody } from '../api/tickets.ts';
import type { TicketManager } from '../tickets/ticket-manager.ts';

/** A plan's ticket as `TicketManager.create` takes it. */
export function ticketBody(
  project: string,
  ticket: EditPlanBody['tickets'][number] | PlanTicket,
): CreateTicketBody {
  return {
    project,
    title: ticket.title,
    request: ticket.request,
    criteria: ticket.criteria,
    ...(ticket.role !== undefined ? { role: ticket.role } : {}),
    ...(ticket.model !== undefined ? { model: ticket.model } : {}),
    ...(ticket.budget !== undefined ? { budget: ticket.budget } : {}),
  };
}

/** Every ticket as `TicketManager.create` would take it (a clear error naming the ticket). */
export async function checkPlanTickets(
  tickets: TicketManager,
  owner: string,
  project: string,
  specs: EditPlanBody['tickets'],
): Promise<void> {
  for (const ticket of specs) {
    try {
      await tickets.check(owner, ticketBody(project, ticket));
    } catch (error) {
      if (error instanceof Error)
        error.message = `Ticket ${ticket.key} of the plan: ${error.message}`;
      throw error;
    }
  }
}
