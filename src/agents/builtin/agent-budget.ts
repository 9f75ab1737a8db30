import type { TokenUsage } from '../../api/tickets.ts';
import type { AgentEndReason, AgentTask } from '../agent.ts';

export interface BudgetStop {
  reason: Extract<AgentEndReason, `budget_${string}`>;
  message: string;
}

/**
 * The budget this run has used up, if any: steps, tokens and cost count the ticket's earlier
 * attempts too (`total`); wall time is this attempt's.
 */
export function exceededBudget(
  budget: AgentTask['budget'],
  total: TokenUsage,
  elapsedMs: number,
): BudgetStop | undefined {
  if (total.steps >= budget.maxSteps) {
    return {
      reason: 'budget_steps',
      message: `stopped after ${total.steps} steps (budget: ${budget.maxSteps} steps)`,
    };
  }
  const tokens = total.inputTokens + total.outputTokens;
  if (tokens >= budget.maxTokens) {
    return {
      reason: 'budget_tokens',
      message: `stopped after ${tokens} tokens (${total.inputTokens} in, ${total.outputTokens} out; budget: ${budget.maxTokens} tokens)`,
    };
  }
  if (total.costUsd >= budget.maxCostUsd) {
    return {
      reason: 'budget_cost',
      message: `stopped at $${total.costUsd.toFixed(4)} (budget: $${budget.maxCostUsd})`,
    };
  }
  if (elapsedMs >= budget.maxWallMs) return wallTimeStop(budget.maxWallMs, elapsedMs);
  return undefined;
}

export function wallTimeStop(maxWallMs: number, elapsedMs: number): BudgetStop {
  return {
    reason: 'budget_time',
    message: `stopped after ${Math.round(elapsedMs / 1000)} s (budget: ${Math.round(maxWallMs / 1000)} s of wall time)`,
  };
}
