import type { StateRow } from './row-values.ts';

/**
 * One page of a listing read newest first by `seq` with one row more than `limit` (`LIMIT
 * limit + 1`): the first `limit` rows as records, and the cursor of the next page (the last
 * shown row's seq) only when that extra row came, so a full last page has none.
 */
export function seqPage<Item>(
  rows: readonly StateRow[],
  limit: number,
  toRecord: (row: StateRow) => Item,
): { records: Item[]; nextCursor: string | null } {
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  return {
    records: shown.map(toRecord),
    nextCursor: rows.length > limit && last ? String(last.seq) : null,
  };
}
