// What the statement groups write to rows and read from them.

/**
 * JSON as the exact text `JSON.stringify` writes (PostgreSQL migration 2 says why not JSONB);
 * null and undefined stay null.
 */
export function jsonText(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** A nullable number column (the row mappers' helper, src/state/rows/row-values.ts). */
export { nullableNumber } from '../rows/row-values.ts';

/**
 * A count or id as a client gave it (`?after=`, `Last-Event-ID`, `?attempt=`: any integer),
 * bounded so that PostgreSQL's integer types never overflow where SQLite compared any number.
 */
export const safeInteger = (value: number): number => Math.min(value, Number.MAX_SAFE_INTEGER);
