import type { PlanBudget } from '../api/plans.ts';
import type { TokenUsage } from '../api/tickets.ts';

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

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** Cents, or tenths of a cent below one cent (a scripted ticket costs fractions of one). */
function dollars(amount: number): string {
  return `$${amount >= 0.01 ? amount.toFixed(2) : amount.toFixed(4)}`;
}
