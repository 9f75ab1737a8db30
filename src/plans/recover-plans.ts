import { canTakeOver, type ServerInstance } from '../config/server-instance.ts';
import type { StateRepository } from '../state/state-repository.ts';
import { serverStoppedReason } from '../tickets/ticket-attempt.ts';
import type { TicketManager } from '../tickets/ticket-manager.ts';
import { followTickets, readPlanLog, rerunNotice } from './follow-plan-tickets.ts';
import type { PlanDispatch } from './plan-dispatch.ts';
import { followTicketStatus } from './plan-items.ts';

/** Why a plan the server stopped while its planner wrote it failed. */
export const plannerStoppedReason = 'the server stopped while planning; create it again';

/**
 * The plans a gone server process of this host left moving (a live one's, another host's and
 * this process's own are left alone), each under its lock after reading it again: one `planning`
 * fails (the planner's conversation is not durable); one `running` or `blocked` is driven here
 * from now on — its tickets are tracked first (no event of theirs is missed), then its items
 * follow their tickets' records (what happened while no plan listened; an item whose ticket was
 * started just before the stop is dispatched), a merge that was cut off is made again
 * (`advance`), and a ticket the ticket recovery failed because its server stopped runs again,
 * once per ticket over any number of restarts (a notice each time; an approved or reviewed one
 * never does); one `integrating` is integrated again. Call after `TicketManager.recover`.
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
        if (!plan || plan.status !== found.status || !canTakeOver(plan, instance)) return;
        if (plan.status === 'planning') {
          await dispatch.transition(plan, 'failed', plannerStoppedReason);
          report.failed++;
          return;
        }
        const mine = { host: instance.host, server: instance.server };
        await repository.updatePlan(plan.id, mine);
        Object.assign(plan, mine);
        const log = await readPlanLog(repository, plan.id);
        // Tracked before the records are read: an event of a ticket meanwhile is not lost (it
        // waits for this lock, then finds the item as read here).
        dispatch.track(plan, log.mirrored);
        const changes = await followTickets(repository, plan);
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
          if ((log.reruns.get(item.ticket) ?? 0) > 0) {
            await dispatch.notice(
              plan.id,
              `ticket ${item.key} (${item.ticket}) was running when the server stopped again: it was run again once already, so it stays failed (mags plan retry ${plan.id} ${item.key})`,
            );
            continue;
          }
          try {
            const queued = await options.tickets.run(plan.owner, item.ticket, {
              plan: plan.id,
              budget: await dispatch.ticketBudget(plan, item.ticket),
            });
            followTicketStatus(item, queued);
            await dispatch.notice(plan.id, rerunNotice(item.key, item.ticket));
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
  await settleAutoDrafts(options);
  return report;
}

/**
 * A draft written with `auto` whose server stopped before approving it stays a draft: followers
 * treat such a draft as moving (`isPlanMoving`), so it gives up `auto` (it is settled, waiting
 * for a person) with a notice that says how to go on. (A draft is approved by the process that
 * wrote it at once; one server per state, as for the rest of plans.)
 */
async function settleAutoDrafts(options: {
  repository: StateRepository;
  dispatch: PlanDispatch;
  log(line: string): void;
}): Promise<void> {
  const { repository, dispatch } = options;
  for (const found of await repository.plansInStatus(['draft'])) {
    if (!found.auto) continue;
    try {
      await dispatch.locked(found.id, async () => {
        const plan = await repository.getPlan(found.owner, found.id);
        if (plan?.status !== 'draft' || !plan.auto) return;
        await repository.updatePlan(plan.id, { auto: false, updatedAt: new Date().toISOString() });
        await dispatch.notice(
          plan.id,
          `the server stopped before approving it automatically: approve it (mags plan approve ${plan.id})`,
        );
      });
    } catch (error) {
      options.log(`cannot settle plan ${found.id}: ${(error as Error).message}`);
    }
  }
}
