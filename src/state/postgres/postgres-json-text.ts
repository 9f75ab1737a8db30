/**
 * JSON as the exact text `JSON.stringify` writes (PostgreSQL migration 2 says why not JSONB);
 * null and undefined stay null.
 */
export function jsonText(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** A nullable number column. */
export const nullableNumber = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
