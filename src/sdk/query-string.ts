export type Query = Record<string, string | number | boolean | undefined>;

/** `?a=1&b=x` of the parameters that are set (none: the empty string). */
export function queryString(query: Query): string {
  const entries = Object.entries(query).filter(([, value]) => value !== undefined);
  if (entries.length === 0) return '';
  return `?${new URLSearchParams(entries.map(([key, value]): [string, string] => [key, String(value)])).toString()}`;
}
