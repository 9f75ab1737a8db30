/**
 * USD per million tokens by `provider:model`, to count a ticket's cost against its budget. The
 * built-in table is a starting point; a project's `.mags/project.json` (`prices`) and the server's
 * `MAGS_MODEL_PRICES` (a JSON file) extend or override it. A model with no price costs 0 and
 * the agent says so in a `notice` event (`unpricedModelNotice`).
 */
export interface ModelPrice {
  inputPerMillionUsd: number;
  outputPerMillionUsd: number;
}
export type ModelPriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * List prices of a handful of current models (USD per million tokens, from the providers' price
 * pages, mid-2025), by family: a dated snapshot id is priced like its family (`modelFamily`).
 * Models of local servers (`ollama:`, `lmstudio:`, `openai-compatible:`) are free; anything else
 * missing costs 0 until a table names it, with a notice.
 */
export const defaultPrices: ModelPriceTable = {
  'anthropic:claude-opus-4-1': { inputPerMillionUsd: 15, outputPerMillionUsd: 75 },
  'anthropic:claude-opus-4-5': { inputPerMillionUsd: 5, outputPerMillionUsd: 25 },
  'anthropic:claude-sonnet-4-5': { inputPerMillionUsd: 3, outputPerMillionUsd: 15 },
  'anthropic:claude-sonnet-4-0': { inputPerMillionUsd: 3, outputPerMillionUsd: 15 },
  // The family of the dated claude-sonnet-4-20250514 and claude-opus-4-20250514.
  'anthropic:claude-sonnet-4': { inputPerMillionUsd: 3, outputPerMillionUsd: 15 },
  'anthropic:claude-opus-4-0': { inputPerMillionUsd: 15, outputPerMillionUsd: 75 },
  'anthropic:claude-opus-4': { inputPerMillionUsd: 15, outputPerMillionUsd: 75 },
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

/** Providers of models that run on a server of one's own: they cost nothing per token. */
const localProviders = ['ollama:', 'lmstudio:', 'openai-compatible:'];

/**
 * A dated snapshot id's family: a trailing `-YYYYMMDD` (Anthropic's `claude-sonnet-4-5-20250929`)
 * or `-YYYY-MM-DD` (OpenAI's `gpt-4.1-2025-04-14`) removed. Providers price a dated snapshot like
 * its family alias, so the family's price applies when the dated id itself has none.
 */
export function modelFamily(model: string): string | undefined {
  const family = model.replace(/-(?:\d{8}|\d{4}-\d{2}-\d{2})$/, '');
  return family === model ? undefined : family;
}

/**
 * The price of `model`: its own id, then its family's (`modelFamily`), each in the task's table
 * first (it extends and overrides), then the built-in one. Local models cost 0; any other model
 * no table names has no price (undefined).
 */
export function priceOf(model: string, table: ModelPriceTable = {}): ModelPrice | undefined {
  const family = modelFamily(model);
  for (const id of family ? [model, family] : [model]) {
    if (Object.hasOwn(table, id)) return table[id];
    if (Object.hasOwn(defaultPrices, id)) return defaultPrices[id];
  }
  if (localProviders.some((prefix) => model.startsWith(prefix))) {
    return { inputPerMillionUsd: 0, outputPerMillionUsd: 0 };
  }
  return undefined;
}

/** What a person is told when `model` has no price (undefined when it has one). */
export function unpricedModelNotice(
  model: string,
  table: ModelPriceTable = {},
): string | undefined {
  if (priceOf(model, table)) return undefined;
  return `no price for ${model}; its cost counts as 0 — add it to MAGS_MODEL_PRICES or the project's prices`;
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
