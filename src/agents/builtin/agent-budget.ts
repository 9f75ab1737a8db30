import type { TokenUsage } from '../../api/tickets.ts';
import type { AgentEndReason, AgentTask } from '../agent.ts';

export interface BudgetStop {
  reason: Extract<AgentEndReason, `budget_${string}`>;
  message: string;
}

/**
 * The budget this run has used up, if any. Steps and wall time are budgets of each attempt
 * (`attempt`, `elapsedMs`): a reviewer's request-changes after a step-budget stop gets a fresh
 * set of steps. Tokens and cost are budgets of the whole ticket (`ticket`: its earlier attempts
 * plus this one), since they are what it costs.
 */
export function exceededBudget(
  budget: AgentTask['budget'],
  usage: { attempt: TokenUsage; ticket: TokenUsage },
  elapsedMs: number,
): BudgetStop | undefined {
  const { attempt, ticket } = usage;
  if (attempt.steps >= budget.maxSteps) {
    return {
      reason: 'budget_steps',
      message: `stopped after ${attempt.steps} steps in this attempt (budget: ${budget.maxSteps} steps per attempt)`,
    };
  }
  const tokens = ticket.inputTokens + ticket.outputTokens;
  if (tokens >= budget.maxTokens) {
    return {
      reason: 'budget_tokens',
      message: `stopped after ${tokens} tokens on this ticket (${ticket.inputTokens} in, ${ticket.outputTokens} out; budget: ${budget.maxTokens} tokens per ticket)`,
    };
  }
  if (ticket.costUsd >= budget.maxCostUsd) {
    return {
      reason: 'budget_cost',
      message: `stopped at $${ticket.costUsd.toFixed(4)} on this ticket (budget: $${budget.maxCostUsd} per ticket)`,
    };
  }
  if (elapsedMs >= budget.maxWallMs) return wallTimeStop(budget.maxWallMs, elapsedMs);
  return undefined;
}

export function wallTimeStop(maxWallMs: number, elapsedMs: number): BudgetStop {
  return {
    reason: 'budget_time',
    message: `stopped after ${Math.round(elapsedMs / 1000)} s in this attempt (budget: ${Math.round(maxWallMs / 1000)} s of wall time per attempt)`,
  };
}
