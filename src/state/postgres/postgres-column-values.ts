/**
 * The `SET` of an update as an object for the client's `sql(values)` (it writes
 * `"column" = $1, …`): each defined field of `update` under its column from `columns` (a field
 * without one is a bug, thrown); an undefined field is left as it is, null clears it. Values go
 * through `toColumnValue` (default: as they are; a boolean column takes a boolean), and text
 * through `withoutNul`. Empty when no field is defined: the caller then runs nothing, as
 * SQLite's `updateColumns` does.
 */
export function columnValues<Update extends object>(
  table: string,
  columns: { readonly [Key in keyof Update]-?: string },
  update: Update,
  toColumnValue: (column: string, value: unknown) => unknown = (_column, value) => value,
): Record<string, ColumnValue> {
  const values: Record<string, ColumnValue> = {};
  for (const [key, value] of Object.entries(update)) {
    if (value === undefined) continue;
    const column = (columns as Record<string, string | undefined>)[key];
    if (!column) throw new Error(`update of ${table}: no column for ${key}`);
    values[column] = withoutNul(toColumnValue(column, value) as ColumnValue);
  }
  return values;
}

/** What a column of this repository holds: text, a number, a boolean, bytes or null. */
export type ColumnValue = string | number | boolean | Buffer | null;

/** A nullable text column (the row mappers' helper, src/state/rows/row-values.ts). */
export { text } from '../rows/row-values.ts';

/**
 * Text the server itself wrote (a job's message quoting output, a setup's failure tail) with
 * every NUL as U+FFFD: PostgreSQL's text cannot hold NUL (SQLSTATE 22021), and failing the
 * write would leave a job running forever. Client text with NUL is refused by the API before
 * (src/api/text-without-nul.ts), so only what mags produced is ever changed here.
 */
export function withoutNul<Value>(value: Value): Value {
  return (
    typeof value === 'string' && value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value
  ) as Value;
}
