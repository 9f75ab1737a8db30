import { addUsage, subtractUsage } from '../agents/token-usage.ts';
import type { PlanRecord, StateRepository } from '../state/state-repository.ts';
import { followTicketStatus, type ItemChange } from './plan-items.ts';

/**
 * The items as their tickets' records say now (status, usage into the plan's total), for a plan
 * no process followed for a while (a restart, a stop): an item still waiting or merging whose
 * ticket already left `draft` was started (cut off before the plan saved it) and is dispatched.
 * Changes `plan` in place; returns the items' changes.
 */
export async function followTickets(
  repository: StateRepository,
  plan: PlanRecord,
): Promise<ItemChange[]> {
  const changes: ItemChange[] = [];
  for (const item of plan.tickets) {
    if (!item.ticket) continue;
    const ticket = await repository.getTicket(plan.owner, item.ticket);
    if (!ticket) continue;
    if (
      (item.state === 'waiting' || item.state === 'merging') &&
      (ticket.status !== 'draft' || ticket.workspace !== null)
    ) {
      const from = item.state;
      item.state = 'dispatched';
      item.reason = null;
      item.resolveConflicts = undefined;
      changes.push({ key: item.key, from, to: 'dispatched', reason: 'its ticket was started' });
    }
    followTicketStatus(item, ticket);
    plan.usage = addUsage(plan.usage, subtractUsage(ticket.usage, item.usage));
    item.usage = ticket.usage;
  }
  return changes;
}

/**
 * Per ticket: the last of its events already mirrored into the plan's log; and per ticket, how
 * many times the plan ran it again automatically after a server stopped (its `notice`s).
 */
export async function readPlanLog(
  repository: StateRepository,
  planId: string,
): Promise<{ mirrored: Map<string, number>; reruns: Map<string, number> }> {
  const mirrored = new Map<string, number>();
  const reruns = new Map<string, number>();
  let after = 0;
  for (;;) {
    const page = await repository.readPlanEvents(planId, after, 1000);
    for (const event of page) {
      after = event.id;
      const data = event.data;
      if (data.type === 'ticket_event') {
        mirrored.set(data.ticket, Math.max(mirrored.get(data.ticket) ?? 0, data.event.id));
      }
      const rerun = data.type === 'notice' ? rerunNoticeTicket(data.message) : null;
      if (rerun) reruns.set(rerun, (reruns.get(rerun) ?? 0) + 1);
    }
    if (page.length < 1000) return { mirrored, reruns };
  }
}

const rerunNoticeEnd = 'was running when the server stopped: it runs again';

/** The notice of an automatic rerun of the ticket after a server stopped. */
export function rerunNotice(key: string, ticket: string): string {
  return `ticket ${key} (${ticket}) ${rerunNoticeEnd}`;
}

function rerunNoticeTicket(message: string): string | null {
  const match = /^ticket [a-z0-9-]+ \((tkt_[^)]+)\) (.*)$/.exec(message);
  return match?.[2] === rerunNoticeEnd ? (match[1] ?? null) : null;
}
