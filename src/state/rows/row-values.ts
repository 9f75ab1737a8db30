// What the row mappers read from a row of either backend, and write as JSON. Both give integers
// as numbers (PostgreSQL's BIGINT too: postgres-database.ts); booleans differ: SQLite's INTEGER
// 0/1, PostgreSQL's BOOLEAN false/true, so a boolean column is read with `flag`.

/** A row as either backend's client returns it: column name to raw value. */
export type StateRow = Record<string, unknown>;

/** A nullable text column. */
export const text = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value);

/** A nullable number column. */
export const nullableNumber = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

/** A boolean column: SQLite's 1 (an INTEGER) or PostgreSQL's true (a BOOLEAN). */
export const flag = (value: unknown): boolean => value === true || Number(value) === 1;

/** JSON as the exact text `JSON.stringify` writes; null and undefined stay null. */
export function jsonText(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
