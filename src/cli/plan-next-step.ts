import type { Plan } from '../api/plans.ts';
import { printJson } from './output.ts';
import { terminalSafe } from './ticket-render.ts';

/**
 * What to do next with a plan in this status, for the line after a command; terminal-safe (it
 * quotes the plan's reason: a planner's or an agent's words, escape sequences taken out).
 */
export function nextStep(plan: Plan): string {
  return terminalSafe(unsafeNextStep(plan));
}

function unsafeNextStep(plan: Plan): string {
  switch (plan.status) {
    case 'draft':
      return `approve it: mags plan approve ${plan.id}, or edit it: mags plan edit ${plan.id}`;
    case 'planning':
    case 'running':
    case 'integrating':
      return `follow it: mags plan watch ${plan.id}`;
    case 'awaiting_review':
      return `review: mags plan evidence ${plan.id}, then mags plan approve ${plan.id}`;
    case 'approved':
      return `fetch branch ${plan.branch ?? `mags/plan-${plan.id}`}: mags plan apply ${plan.id}`;
    case 'blocked':
    case 'stopped': {
      const steps = stuckSteps(plan);
      return steps.length > 0 ? steps.join('; ') : `see mags plan show ${plan.id}`;
    }
    case 'failed':
      return plan.reason ?? `see mags plan show ${plan.id}`;
    default:
      return `see mags plan show ${plan.id}`;
  }
}

/**
 * The command for each ticket a person must act on, by key: a conflict resolved (a ticket merges
 * again and an agent resolves it), a failed, stopped or unstartable one run again. A ticket only
 * blocked by another needs nothing of its own (the other's retry frees it).
 */
export function stuckSteps(plan: Pick<Plan, 'id' | 'tickets'>): string[] {
  return plan.tickets.flatMap((ticket) => {
    const retry = `mags plan retry ${plan.id} ${ticket.key}`;
    if (ticket.state === 'conflict') {
      return [`resolve ${ticket.key}'s conflict in ${ticket.conflictFiles.join(', ')}: ${retry}`];
    }
    if (ticket.state === 'blocked' && !ticket.blockedBy) return [`retry ${ticket.key}: ${retry}`];
    if (
      ticket.state === 'dispatched' &&
      ['failed', 'stopped'].includes(ticket.ticketStatus ?? '')
    ) {
      return [`retry ${ticket.key}: ${retry}`];
    }
    return [];
  });
}

/** After an action: the plan's new status and what next, or the plan as JSON. */
export function reportPlan(plan: Plan, json: boolean | undefined): void {
  if (json) {
    printJson(plan);
    return;
  }
  process.stderr.write(`mags: plan ${plan.id} is ${plan.status}; ${nextStep(plan)}\n`);
}
