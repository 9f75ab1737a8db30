// What the statement groups write to rows and read from them.

// JSON as text (PostgreSQL migration 2 says why not JSONB) and nullable numbers: the same
// helpers as the row mappers', defined once in src/state/rows/row-values.ts.
export { jsonText, nullableNumber } from '../rows/row-values.ts';

/**
 * A count or id as a client gave it (`?after=`, `Last-Event-ID`, `?attempt=`: any integer),
 * bounded so that PostgreSQL's integer types never overflow where SQLite compared any number.
 */
export const safeInteger = (value: number): number => Math.min(value, Number.MAX_SAFE_INTEGER);
