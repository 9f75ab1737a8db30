import type { TokenUsage } from '../api/tickets.ts';

/** Usage before anything ran: a new ticket's, an attempt's start. */
export const noUsage: TokenUsage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
  steps: 0,
});

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    costUsd: a.costUsd + b.costUsd,
    steps: a.steps + b.steps,
  };
}
