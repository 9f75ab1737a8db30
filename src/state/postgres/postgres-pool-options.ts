import { InvalidInputError } from '../../errors/mags-error.ts';

/** Pooled connections when neither the URL nor the environment says (plus one for LISTEN). */
export const defaultMaxConnections = 10;
/** A pooled connection idle this long is closed; the next query opens one again. */
export const defaultIdleTimeoutSeconds = 60;

/**
 * The pool's size and idle timeout for postgres.js. The size comes from the caller, else the
 * URL's `?max=N`, else MAGS_STATE_MAX_CONNECTIONS, else 10: postgres.js itself reads `?max=`
 * only when no `max` option is passed (node_modules/postgres/src/index.js, parseOptions), so it
 * is read here. Every server holds its pool plus one LISTEN connection, against PostgreSQL's
 * `max_connections` (100 by default). The URL's own `?idle_timeout=` (seconds) is left to
 * postgres.js; without one, idle connections close after a minute.
 */
export function postgresPoolOptions(
  url: string,
  maxConnections: number | undefined,
  environment: NodeJS.ProcessEnv = process.env,
): { max: number; idle_timeout?: number } {
  let query = new URLSearchParams();
  try {
    query = new URL(url).searchParams;
  } catch {}
  const max =
    maxConnections ??
    parseMax(query.get('max'), 'the ?max= of the state URL') ??
    parseMax(environment.MAGS_STATE_MAX_CONNECTIONS, 'MAGS_STATE_MAX_CONNECTIONS') ??
    defaultMaxConnections;
  return query.has('idle_timeout') ? { max } : { max, idle_timeout: defaultIdleTimeoutSeconds };
}

function parseMax(value: string | null | undefined, where: string): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < 1 || number > 1000) {
    throw new InvalidInputError(`${where} is ${JSON.stringify(value)}, not a connection count.`, {
      hint: 'Give a whole number of pooled connections from 1 to 1000 (default 10), within PostgreSQL max_connections for every server sharing the database.',
    });
  }
  return number;
}
