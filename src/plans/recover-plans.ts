import { addUsage } from '../agents/token-usage.ts';
import { type ServerInstance, serverIsAlive } from '../config/server-instance.ts';
import type { PlanRecord, StateRepository } from '../state/state-repository.ts';
import { serverStoppedReason } from '../tickets/ticket-attempt.ts';
import type { TicketManager } from '../tickets/ticket-manager.ts';
import type { PlanDispatch } from './plan-dispatch.ts';
import { followTicketStatus, type ItemChange } from './plan-items.ts';

/** Why a plan the server stopped while its planner wrote it failed. */
export const plannerStoppedReason = 'the server stopped while planning; create it again';

/**
 * The plans a gone server process of this host left moving (a live one's, another host's and
 * this process's own are left alone), each under its lock after reading it again: one `planning`
 * fails (the planner's conversation is not durable); one `running` or `blocked` is driven here
 * from now on — its items follow their tickets' records (what happened while no plan listened),
 * the ticket events it missed are mirrored, a merge that was cut off is made again, and a ticket
 * the ticket recovery failed because its server stopped runs again once, with a notice (an
 * approved or reviewed one never does); one `integrating` is integrated again. Call after
 * `TicketManager.recover`.
 */
export async function recoverPlans(options: {
  repository: StateRepository;
  tickets: TicketManager;
  dispatch: PlanDispatch;
  instance: ServerInstance;
  log(line: string): void;
}): Promise<{ resumed: number; failed: number }> {
  const { repository, dispatch, instance } = options;
  const report = { resumed: 0, failed: 0 };
  const left = await repository.plansInStatus(['planning', 'running', 'blocked', 'integrating']);
  for (const found of left) {
    try {
      await dispatch.locked(found.id, async () => {
        const plan = await repository.getPlan(found.owner, found.id);
        if (!plan || plan.status !== found.status) return;
        if (plan.host && plan.host !== instance.host) return;
        if (plan.server === instance.server) return;
        if (plan.server && serverIsAlive(plan.server)) return;
        if (plan.status === 'planning') {
          await dispatch.transition(plan, 'failed', plannerStoppedReason);
          report.failed++;
          return;
        }
        const mine = { host: instance.host, server: instance.server };
        await repository.updatePlan(plan.id, mine);
        Object.assign(plan, mine);
        const changes = await followTickets(repository, plan);
        dispatch.track(plan, await mirroredThrough(repository, plan.id));
        report.resumed++;
        if (plan.status === 'integrating') {
          await dispatch.saveItems(plan, changes);
          dispatch.background(`plan ${plan.id}: integration`, dispatch.integrate(plan));
          return;
        }
        for (const item of plan.tickets) {
          if (!item.ticket || item.state !== 'dispatched') continue;
          if (item.ticketStatus === 'awaiting_review') dispatch.maybeAutoApprove(plan, item);
          if (item.ticketStatus !== 'failed') continue;
          const ticket = await repository.getTicket(plan.owner, item.ticket);
          if (ticket?.reason !== serverStoppedReason) continue;
          try {
            const queued = await options.tickets.run(plan.owner, item.ticket, { plan: plan.id });
            followTicketStatus(item, queued);
            await dispatch.notice(
              plan.id,
              `ticket ${item.key} (${item.ticket}) was running when the server stopped: it runs again`,
            );
          } catch (error) {
            await dispatch.notice(
              plan.id,
              `ticket ${item.key} (${item.ticket}) was running when the server stopped and could not run again: ${(error as Error).message}`,
            );
          }
        }
        await dispatch.saveItems(plan, changes);
        await dispatch.advance(plan);
      });
    } catch (error) {
      options.log(`cannot recover plan ${found.id}: ${(error as Error).message}`);
    }
  }
  return report;
}

/**
 * The items as their tickets' records say now (status, usage into the plan's total); a merge cut
 * off by the stop waits to be made again. Changes `plan` in place; returns the items' changes.
 */
async function followTickets(repository: StateRepository, plan: PlanRecord): Promise<ItemChange[]> {
  const changes: ItemChange[] = [];
  for (const item of plan.tickets) {
    if (item.state === 'merging') {
      item.state = 'waiting';
      changes.push({
        key: item.key,
        from: 'merging',
        to: 'waiting',
        reason: 'the server stopped while merging',
      });
    }
    if (!item.ticket) continue;
    const ticket = await repository.getTicket(plan.owner, item.ticket);
    if (!ticket) continue;
    followTicketStatus(item, ticket);
    const added = {
      inputTokens: ticket.usage.inputTokens - item.usage.inputTokens,
      outputTokens: ticket.usage.outputTokens - item.usage.outputTokens,
      costUsd: ticket.usage.costUsd - item.usage.costUsd,
      steps: ticket.usage.steps - item.usage.steps,
    };
    plan.usage = addUsage(plan.usage, added);
    item.usage = ticket.usage;
  }
  return changes;
}

/** Per ticket: the last of its events already mirrored into the plan's log. */
async function mirroredThrough(
  repository: StateRepository,
  planId: string,
): Promise<Map<string, number>> {
  const through = new Map<string, number>();
  let after = 0;
  for (;;) {
    const page = await repository.readPlanEvents(planId, after, 1000);
    for (const event of page) {
      after = event.id;
      if (event.data.type !== 'ticket_event') continue;
      through.set(
        event.data.ticket,
        Math.max(through.get(event.data.ticket) ?? 0, event.data.event.id),
      );
    }
    if (page.length < 1000) return through;
  }
}
