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
