import { join, resolve } from 'node:path';
import { InvalidInputError } from '../errors/mags-error.ts';
import type { StateRepository } from './state-repository.ts';

/** Where the state lives: a SQLite file on this host, or a PostgreSQL database several share. */
export type StateLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/**
 * Reads `mags server --state` (or MAGS_STATE): a `postgres://` or `postgresql://` URL is
 * PostgreSQL, anything else without a scheme a SQLite file's path (relative to the working
 * directory); nothing given is `$MAGS_HOME/state.db`, as before there was a choice. Another
 * scheme, or a PostgreSQL URL that does not parse, is refused before anything is opened.
 */
export function parseStateLocation(spec: string | undefined, home: string): StateLocation {
  if (spec === undefined) return { kind: 'sqlite', path: join(home, 'state.db') };
  const trimmed = spec.trim();
  if (trimmed === '') {
    throw new InvalidInputError('The state location is empty.', {
      hint: 'Give --state (or MAGS_STATE) a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL or the path of a SQLite file, or leave it out for $MAGS_HOME/state.db.',
    });
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  const postgres = scheme === 'postgres' || scheme === 'postgresql';
  if (!postgres && !/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    return { kind: 'sqlite', path: resolve(trimmed) };
  }
  if (!postgres) {
    throw new InvalidInputError(
      `The state location ${JSON.stringify(`${scheme}://…`)} is not a database mags can use.`,
      {
        hint: 'Use a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL, or the path of a SQLite file.',
      },
    );
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(trimmed);
  } catch {}
  if (!parsed || !trimmed.slice(scheme.length + 1).startsWith('//')) {
    throw new InvalidInputError(`The state location is not a valid ${scheme}:// URL.`, {
      hint: 'Write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE (percent-encode special characters of the password).',
    });
  }
  return { kind: 'postgres', url: trimmed };
}

/** The location for messages: a PostgreSQL URL without its password or parameters. */
export function describeStateLocation(location: StateLocation): string {
  if (location.kind === 'sqlite') return location.path;
  const url = new URL(location.url);
  const user = url.username ? `${url.username}@` : '';
  return `postgres://${user}${url.host}${url.pathname}`;
}

/**
 * Opens the state `spec` names (parseStateLocation), bringing its schema up to date. The
 * backends are loaded on demand: a server on SQLite never loads the PostgreSQL client.
 */
export async function openStateRepository(
  spec: string | undefined,
  home: string,
): Promise<StateRepository> {
  const location = parseStateLocation(spec, home);
  if (location.kind === 'postgres') {
    const { createPostgresStateRepository } = await import(
      './postgres/postgres-state-repository.ts'
    );
    return createPostgresStateRepository(location.url);
  }
  const { createSqliteStateRepository } = await import('./sqlite/sqlite-state-repository.ts');
  return createSqliteStateRepository(location.path);
}
