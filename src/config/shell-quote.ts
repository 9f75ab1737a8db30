/**
 * One argument for /bin/sh, single-quoted: nothing inside it is expanded (embedded single quotes
 * are closed, escaped and reopened). In `config` so every layer that builds a command line for a
 * sandbox (the agent's tools, the ticket's evidence and review scripts) shares the one version.
 */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
