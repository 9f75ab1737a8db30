/** The fields of `value` that are set: one given as undefined leaves a default in place. */
export function definedFields<Value extends object>(value: Value | undefined): Partial<Value> {
  return Object.fromEntries(
    Object.entries(value ?? {}).filter(([, field]) => field !== undefined),
  ) as Partial<Value>;
}
