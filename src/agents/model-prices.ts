/**
 * USD per million tokens by `provider:model`, to count a ticket's cost against its budget. The
 * built-in table is a starting point; a project's `.mags/project.json` (`prices`) and the server's
 * `MAGS_MODEL_PRICES` (a JSON file) extend or override it. A model with no price costs 0 and
 * the ticket says so.
 */
export interface ModelPrice {
  inputPerMillionUsd: number;
  outputPerMillionUsd: number;
}
export type ModelPriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * List prices of a handful of current models (USD per million tokens, from the providers' price
 * pages, mid-2025). Models of local servers (`ollama:`, `lmstudio:`, `openai-compatible:`) are
 * free here; anything else missing costs 0 until a table names it.
 */
export const defaultPrices: ModelPriceTable = {
  'anthropic:claude-opus-4-1': { inputPerMillionUsd: 15, outputPerMillionUsd: 75 },
  'anthropic:claude-opus-4-5': { inputPerMillionUsd: 5, outputPerMillionUsd: 25 },
  'anthropic:claude-sonnet-4-5': { inputPerMillionUsd: 3, outputPerMillionUsd: 15 },
  'anthropic:claude-sonnet-4-0': { inputPerMillionUsd: 3, outputPerMillionUsd: 15 },
  'anthropic:claude-haiku-4-5': { inputPerMillionUsd: 1, outputPerMillionUsd: 5 },
  'openai:gpt-5': { inputPerMillionUsd: 1.25, outputPerMillionUsd: 10 },
  'openai:gpt-5.1': { inputPerMillionUsd: 1.25, outputPerMillionUsd: 10 },
  'openai:gpt-5-mini': { inputPerMillionUsd: 0.25, outputPerMillionUsd: 2 },
  'openai:gpt-5-nano': { inputPerMillionUsd: 0.05, outputPerMillionUsd: 0.4 },
  'openai:gpt-4.1': { inputPerMillionUsd: 2, outputPerMillionUsd: 8 },
  'openai:gpt-4o-mini': { inputPerMillionUsd: 0.15, outputPerMillionUsd: 0.6 },
  'xai:grok-4': { inputPerMillionUsd: 3, outputPerMillionUsd: 15 },
  'xai:grok-code-fast-1': { inputPerMillionUsd: 0.2, outputPerMillionUsd: 1.5 },
};

/** The price of `model`: the task's table first (it extends and overrides), then the built-in. */
export function priceOf(model: string, table: ModelPriceTable = {}): ModelPrice | undefined {
  if (Object.hasOwn(table, model)) return table[model];
  return Object.hasOwn(defaultPrices, model) ? defaultPrices[model] : undefined;
}

/** What `usage` of `model` cost in USD (0 for a model no table prices). */
export function costOf(
  model: string,
  usage: { inputTokens: number; outputTokens: number },
  table: ModelPriceTable = {},
): number {
  const price = priceOf(model, table);
  if (!price) return 0;
  return (
    (usage.inputTokens * price.inputPerMillionUsd +
      usage.outputTokens * price.outputPerMillionUsd) /
    1_000_000
  );
}
