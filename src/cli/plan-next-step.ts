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
      return `${plan.reason ?? 'a ticket needs a person'}; then mags plan retry ${plan.id} TICKET`;
    case 'failed':
      return plan.reason ?? 'see mags plan show';
    default:
      return `see mags plan show ${plan.id}`;
  }
}

/** After an action: the plan's new status and what next, or the plan as JSON. */
export function reportPlan(plan: Plan, json: boolean | undefined): void {
  if (json) {
    printJson(plan);
    return;
  }
  process.stderr.write(`mags: plan ${plan.id} is ${plan.status}; ${nextStep(plan)}\n`);
}
