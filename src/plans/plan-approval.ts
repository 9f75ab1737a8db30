import type { PlanRecord } from '../state/state-repository.ts';
import { checkProjectReady } from '../tickets/ticket-errors.ts';
import type { TicketProjects } from '../tickets/ticket-parts.ts';
import type { PlanDispatch } from './plan-dispatch.ts';
import { wrongPlanStatus } from './plan-errors.ts';
import { checkPlanGraph } from './plan-graph.ts';
import type { PlanGit } from './plan-parts.ts';
import { checkPlanTickets, ticketBody } from './plan-ticket-body.ts';

/**
 * Draft → running (under the plan's lock): every ticket checked, then created (drafts of the
 * plan), then the ready ones dispatched. On any error the tickets made so far are closed and the
 * plan stays a draft.
 */
export async function startPlan(
  parts: { dispatch: PlanDispatch; projects: Pick<TicketProjects, 'get'> },
  plan: PlanRecord,
  by: string,
): Promise<PlanRecord> {
  const { dispatch } = parts;
  const { repository, tickets } = dispatch.options;
  const project = await parts.projects.get(plan.owner, plan.project);
  checkProjectReady(project, `mags plan approve ${plan.id}`);
  checkPlanGraph(plan);
  await checkPlanTickets(tickets, plan.owner, plan.project, plan.tickets);
  try {
    for (const item of plan.tickets) {
      // One made by an approval cut off before (a crash) is used again.
      const made = item.ticket ? await repository.getTicket(plan.owner, item.ticket) : undefined;
      if (made?.status === 'draft' && made.plan === plan.id) continue;
      const ticket = await tickets.create(plan.owner, ticketBody(plan.project, item), {
        plan: plan.id,
      });
      item.ticket = ticket.id;
      item.ticketStatus = ticket.status;
      // Saved as each is made: a crash here leaves no ticket the plan does not know.
      await repository.updatePlan(plan.id, { tickets: plan.tickets });
    }
  } catch (error) {
    // Nothing half-made: the tickets made so far are closed, the plan stays a draft.
    for (const item of plan.tickets) {
      if (!item.ticket) continue;
      await tickets.close(plan.owner, item.ticket, { by: 'mags' }).catch(() => {});
      item.ticket = null;
      item.ticketStatus = null;
    }
    await repository.updatePlan(plan.id, { tickets: plan.tickets });
    throw error;
  }
  const changes = plan.tickets.map((item) => {
    item.state = 'waiting';
    return { key: item.key, from: 'pending' as const, to: 'waiting' as const, reason: null };
  });
  const running = await dispatch.transition(plan, 'running', `approved by ${by}`, {
    tickets: plan.tickets,
    baseCommit: project.commit,
    approvedAt: new Date().toISOString(),
  });
  dispatch.track(running);
  await dispatch.saveItems(running, changes);
  return dispatch.advance(running);
}

/**
 * Awaiting review → approved (under the plan's lock): the integration as branch
 * `mags/plan-<id>`, its bundle stored, its workspace discarded.
 */
export async function approveIntegration(
  parts: { dispatch: PlanDispatch; git: PlanGit },
  plan: PlanRecord,
  by: string,
): Promise<PlanRecord> {
  const { dispatch } = parts;
  if (!plan.integration || !plan.baseCommit) {
    throw wrongPlanStatus(plan.id, 'approve', plan.status, ['draft']);
  }
  const branch = `mags/plan-${plan.id}`;
  const approved = await parts.git.approveIntegration(plan.owner, plan.project, {
    branch,
    commit: plan.integration.commit,
    baseCommit: plan.baseCommit,
  });
  await dispatch.options.repository.putPlanBundle(plan.id, approved.bundle);
  const done = await dispatch.transition(plan, 'approved', `approved by ${by} as ${branch}`, {
    branch,
    commit: approved.commit,
  });
  // The branch and bundle hold the result: the workspace goes (`integration` stays recorded, its
  // commit reachable from the branch).
  await dispatch.discard(plan.owner, plan.project, plan.integration.workspace);
  return done;
}
