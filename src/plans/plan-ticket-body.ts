import type { EditPlanBody, PlanTicket } from '../api/plans.ts';
import type { CreateTicketBody } from '../api/tickets.ts';
import { MagsError } from '../errors/mags-error.ts';
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

/**
 * What sets a plan ticket's model: a ticket's own `--model` is no option here (on `plan create`
 * it is the planner's), so the hint names the plan file, the project's default and the server's.
 */
function planModelHint(project: string, key: string): string {
  return `Give ticket ${key} a model (model: anthropic:claude-sonnet-4-5 in the plan file: mags plan edit), or set a default: the project's (mags project update ${project} --model anthropic:claude-sonnet-4-5) or the server's (MAGS_DEFAULT_MODEL).`;
}

/**
 * Every ticket as `TicketManager.create` would take it (a clear error naming the ticket). With
 * `models: false` (a draft being saved) the models and their keys are left to the approval.
 */
export async function checkPlanTickets(
  tickets: TicketManager,
  owner: string,
  project: string,
  specs: EditPlanBody['tickets'],
  options: { models?: boolean } = {},
): Promise<void> {
  for (const ticket of specs) {
    try {
      await tickets.check(owner, ticketBody(project, ticket), options);
    } catch (error) {
      if (error instanceof Error)
        error.message = `Ticket ${ticket.key} of the plan: ${error.message}`;
      if (error instanceof MagsError && error.code === 'model_missing') {
        Object.assign(error, { hint: planModelHint(project, ticket.key) });
      }
      throw error;
    }
  }
}
