import { addUsage, sameUsage, subtractUsage } from '../agents/token-usage.ts';
import type { TicketStatus, TokenUsage } from '../api/tickets.ts';
import type { PlanRecord } from '../state/state-repository.ts';
import { startItem } from './merge-and-start.ts';
import { maybeAutoApprove } from './plan-auto-approval.ts';
import { planBudgetExceeded } from './plan-budget.ts';
import type { PlanDispatch } from './plan-dispatch.ts';
import { checkPlanGraph } from './plan-graph.ts';
import {
  followTicketStatus,
  type ItemChange,
  inFlight,
  planProgress,
  readyItems,
  settleBlocked,
} from './plan-items.ts';
import type { PlanTicketEntry } from './plan-ticket-mirror.ts';

/** What a ticket's status or usage event says (its record may not say it yet). */
export type TicketChange = { status: TicketStatus; reason: string | null } | { usage: TokenUsage };

/**
 * A status or usage event of a plan's ticket (under the plan's lock): its item follows what the
 * event says, then the plan moves on. The ticket's record is not read: its event is told before
 * it is written.
 */
export async function ticketChanged(
  dispatch: PlanDispatch,
  entry: PlanTicketEntry,
  ticketId: string,
  change: TicketChange,
): Promise<void> {
  const plan = await dispatch.options.repository.getPlan(entry.owner, entry.plan);
  const item = plan?.tickets.find((each) => each.key === entry.key);
  if (!plan || !item || item.ticket !== ticketId) return;
  const before = item.ticketStatus;
  if ('status' in change) followTicketStatus(item, change);
  else if (!sameUsage(item.usage, change.usage)) {
    plan.usage = addUsage(plan.usage, subtractUsage(change.usage, item.usage));
    item.usage = change.usage;
    await dispatch.events.append(plan.id, { type: 'usage', total: plan.usage });
  }
  if (item.ticketStatus === 'awaiting_review' && before !== 'awaiting_review') {
    maybeAutoApprove(dispatch, plan, item);
  }
  await advancePlan(dispatch, plan);
}

/**
 * Moves a running (or blocked) plan on, under its lock, from `plan` as just read and changed:
 * the budget, blocked items, the ready ones started within the limits, then the plan's status.
 * Stores the items (and the plan's status if it changes). Returns the plan as stored.
 */
export async function advancePlan(dispatch: PlanDispatch, plan: PlanRecord): Promise<PlanRecord> {
  if (plan.status !== 'running' && plan.status !== 'blocked') {
    await dispatch.saveItems(plan, []);
    return plan;
  }
  const spent = planBudgetExceeded(plan.budget, plan.usage, plan.approvedAt);
  if (spent) {
    await dispatch.saveItems(plan, []);
    return dispatch.fail(plan, spent);
  }
  const order = checkPlanGraph(plan);
  const changes: ItemChange[] = [];
  // A merge no process runs any more (cut off by a stop or a restart) is made again.
  for (const item of plan.tickets) {
    if (item.state !== 'merging' || dispatch.merging(plan.id, item.key)) continue;
    item.state = 'waiting';
    item.reason = null;
    changes.push({
      key: item.key,
      from: 'merging',
      to: 'waiting',
      reason: 'its merge was cut off',
    });
  }
  changes.push(...settleBlocked(plan.tickets, order));
  for (const item of readyItems(plan.tickets, order)) {
    if (dispatch.closing) break;
    if (plan.tickets.filter(inFlight).length >= plan.maxParallel) break;
    if (dispatch.slots.count(plan) >= dispatch.options.settings.maxParallelPerOwner) break;
    // Taken before the await: another plan of the owner (under its own lock) counts it.
    dispatch.slots.reserve(plan.owner, plan.id, item.key);
    const change = await startItem(dispatch, plan, item);
    if (!inFlight(item)) dispatch.slots.release(plan.owner, plan.id, item.key);
    changes.push(change);
  }
  // A ticket that could not start is a dead end for its dependents.
  changes.push(...settleBlocked(plan.tickets, order));
  await dispatch.saveItems(plan, changes);
  const progress = planProgress(plan.tickets);
  if (progress.next === 'integrate') {
    const integrating = await dispatch.transition(
      plan,
      'integrating',
      'every ticket is approved: integrating their results',
    );
    dispatch.background(`plan ${plan.id}: integration`, dispatch.integrate(integrating));
    return integrating;
  }
  if (progress.next === 'moving' && plan.status === 'blocked') {
    return dispatch.transition(plan, 'running', 'its tickets can make progress again');
  }
  if (
    progress.next === 'blocked' &&
    (plan.status !== 'blocked' || plan.reason !== progress.reason)
  ) {
    return dispatch.transition(plan, 'blocked', progress.reason);
  }
  return plan;
}
