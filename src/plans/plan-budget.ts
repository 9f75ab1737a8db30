import type { PlanBudget } from '../api/plans.ts';
import type { Budget, TokenUsage } from '../api/tickets.ts';

/**
 * Why the plan's budget is spent, in words ("plan budget: $0.52 of $0.50 spent"); null while it
 * is not. Tokens and cost count the plan's summed usage (its planner included); wall time runs
 * from the plan's approval.
 */
export function planBudgetExceeded(
  budget: PlanBudget,
  usage: TokenUsage,
  approvedAt: string | null,
  now = Date.now(),
): string | null {
  if (budget.maxCostUsd !== undefined && usage.costUsd > budget.maxCostUsd) {
    return `plan budget: ${dollars(usage.costUsd)} of ${dollars(budget.maxCostUsd)} spent`;
  }
  const tokens = usage.inputTokens + usage.outputTokens;
  if (budget.maxTokens !== undefined && tokens > budget.maxTokens) {
    return `plan budget: ${tokens.toLocaleString('en-US')} of ${budget.maxTokens.toLocaleString('en-US')} tokens used`;
  }
  if (budget.maxWallMs !== undefined && approvedAt !== null) {
    const elapsedMs = now - Date.parse(approvedAt);
    if (elapsedMs >= budget.maxWallMs) {
      return `plan budget: ran ${seconds(elapsedMs)} of ${seconds(budget.maxWallMs)} allowed`;
    }
  }
  return null;
}

/** Milliseconds until the wall-time budget runs out (null: none, or not approved yet). */
export function wallTimeLeftMs(
  budget: PlanBudget,
  approvedAt: string | null,
  now = Date.now(),
): number | null {
  if (budget.maxWallMs === undefined || approvedAt === null) return null;
  return Math.max(0, Date.parse(approvedAt) + budget.maxWallMs - now);
}

/**
 * A ticket's budget capped at what the plan's has left: a ticket's token and cost budgets count
 * the whole ticket, so its cap is its usage so far plus what the plan has not spent. `asked` (a
 * retry's) is merged over the ticket's own first. Undefined when nothing changes.
 */
export function budgetWithinPlan(
  plan: PlanBudget,
  planUsage: TokenUsage,
  ticket: { budget: Budget; usage: TokenUsage },
  asked?: Budget,
): Budget | undefined {
  const capped: Budget = { ...asked };
  const own = { ...ticket.budget, ...asked };
  if (plan.maxCostUsd !== undefined) {
    // Positive as a budget must be; a plan that has nothing left fails before this runs anyway.
    const left = Math.max(plan.maxCostUsd - planUsage.costUsd, 1e-9);
    const cap = ticket.usage.costUsd + left;
    if (own.maxCostUsd === undefined || own.maxCostUsd > cap) capped.maxCostUsd = cap;
  }
  if (plan.maxTokens !== undefined) {
    const used = planUsage.inputTokens + planUsage.outputTokens;
    const left = Math.max(plan.maxTokens - used, 1);
    const cap = ticket.usage.inputTokens + ticket.usage.outputTokens + left;
    if (own.maxTokens === undefined || own.maxTokens > cap) capped.maxTokens = cap;
  }
  return Object.keys(capped).length > 0 ? capped : undefined;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** Cents, or tenths of a cent below one cent (a scripted ticket costs fractions of one). */
function dollars(amount: number): string {
  return `$${amount >= 0.01 ? amount.toFixed(2) : amount.toFixed(4)}`;
}
