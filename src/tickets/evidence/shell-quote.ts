/** One argument for /bin/sh, single-quoted: nothing inside it is expanded. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
