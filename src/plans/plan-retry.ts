import type { Budget } from '../api/tickets.ts';
import { ConflictError } from '../errors/mags-error.ts';
import type { PlanRecord } from '../state/state-repository.ts';
import type { PlanDispatch } from './plan-dispatch.ts';
import { planTicketNotFound } from './plan-errors.ts';
import { deadEnd, followTicketStatus } from './plan-items.ts';

/**
 * Under the plan's lock (a running, blocked or stopped plan as just read): runs a failed or
 * stopped ticket of the plan again (its dependents wait for it again), or merges a conflicting
 * or blocked one again; a blocked or stopped plan goes back to running.
 */
export async function retryPlanTicket(
  dispatch: PlanDispatch,
  planAsRead: PlanRecord,
  options: { ticket: string; budget?: Budget; resolve?: boolean },
): Promise<PlanRecord> {
  let plan = planAsRead;
  const { id, owner } = plan;
  const item = plan.tickets.find(
    (each) => each.key === options.ticket || each.ticket === options.ticket,
  );
  if (!item) throw planTicketNotFound(id, options.ticket);
  const everyApproved = plan.tickets.every((each) => each.ticketStatus === 'approved');
  if (plan.status === 'stopped') plan = await dispatch.refollow(plan);
  if (item.state === 'conflict' || (item.state === 'blocked' && deadEnd(item))) {
    const from = item.state;
    // A conflict is resolved by default: merging the same results again conflicts again.
    const resolving = item.state === 'conflict' && options.resolve !== false;
    item.state = 'waiting';
    item.reason = null;
    item.resolveConflicts = resolving || undefined;
    if (!resolving) item.conflictFiles = [];
    await dispatch.saveItems(plan, [
      {
        key: item.key,
        from,
        to: 'waiting',
        reason: resolving ? 'retried: its ticket resolves the conflict' : 'retried',
      },
    ]);
  } else if (
    item.state === 'dispatched' &&
    item.ticket &&
    (item.ticketStatus === 'failed' || item.ticketStatus === 'stopped')
  ) {
    const queued = await dispatch.options.tickets.run(owner, item.ticket, {
      budget: await dispatch.ticketBudget(plan, item.ticket, options.budget),
      plan: id,
    });
    followTicketStatus(item, queued);
    await dispatch.saveItems(plan, []);
  } else if (!everyApproved) {
    throw new ConflictError(
      `Ticket ${item.key} of plan ${id} is ${item.state === 'dispatched' ? item.ticketStatus : item.state}: only a failed or stopped ticket, or a conflicting or blocked one, is retried.`,
      {
        code: 'plan_ticket_status',
        hint: `mags plan show ${id} says which tickets failed, stopped or conflict.`,
      },
    );
  }
  if (plan.status !== 'running') {
    plan = await dispatch.transition(plan, 'running', `ticket ${item.key} retried`);
    dispatch.armWallTimer(plan);
  }
  return dispatch.advance(plan);
}
