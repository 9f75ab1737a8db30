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

/** `a` less `b`: what was used between two totals. */
export function subtractUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    inputTokens: a.inputTokens - b.inputTokens,
    outputTokens: a.outputTokens - b.outputTokens,
    costUsd: a.costUsd - b.costUsd,
    steps: a.steps - b.steps,
  };
}

export function sameUsage(a: TokenUsage, b: TokenUsage): boolean {
  return (
    a.inputTokens === b.inputTokens &&
    a.outputTokens === b.outputTokens &&
    a.costUsd === b.costUsd &&
    a.steps === b.steps
  );
}
