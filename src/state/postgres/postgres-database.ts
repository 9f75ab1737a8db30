import postgres from 'postgres';
import { DependencyMissingError, MagsError } from '../../errors/mags-error.ts';
import { migratePostgres } from './postgres-migrations.ts';
import { postgresPoolOptions } from './postgres-pool-options.ts';

/** The client (`postgres` from npm): a tagged template, `sql\`SELECT … ${value}\``, with a pool. */
export type Sql = postgres.Sql;
/** A transaction's client (`sql.begin(async (tx) => …)`): the same tagged template. */
export type TransactionSql = postgres.TransactionSql;

export interface PostgresStateRepositoryOptions {
  /**
   * Connections in the pool: a server's requests, its job logs and its listeners (default: the
   * URL's `?max=`, MAGS_STATE_MAX_CONNECTIONS, else 10; postgres-pool-options.ts).
   */
  maxConnections?: number;
  /** How long the schema upgrade waits for a lock before it fails (default 60 s). */
  migrationLockTimeoutMs?: number;
}

/**
 * BIGINT (int8: sequence numbers, byte offsets, `COUNT(*)`) read as a JS number, as SQLite's
 * driver gives them, so that a row's value can go into JSON as it is. They stay far below 2^53 (a
 * byte offset of 8 PiB); one above would lose digits, so it fails the query instead
 * (postgres.js's own `postgres.BigInt` would make every one a JS BigInt, which JSON refuses).
 */
const bigintAsNumber = {
  to: 20,
  from: [20],
  parse(value: string): number {
    const number = Number(value);
    if (!Number.isSafeInteger(number)) {
      throw new RangeError(`BIGINT ${value} is beyond what a JS number holds exactly (2^53)`);
    }
    return number;
  },
  serialize: (value: unknown) => String(value),
};

/** What the statement groups of the repository share. */
export interface PostgresDatabase {
  sql: Sql;
}

/**
 * Connects to `url` (`postgres://user:password@host:port/database`), checks that it answers and
 * brings its schema up to date (postgres-migrations.ts). An unreachable or refusing server is a
 * clear error that names the server (never the password) and says what to check.
 */
export async function openPostgresDatabase(
  url: string,
  options: PostgresStateRepositoryOptions = {},
): Promise<PostgresDatabase> {
  const sql = postgres(url, {
    ...postgresPoolOptions(url, options.maxConnections),
    // Notices ("relation already exists, skipping") are not for the server's output.
    onnotice: () => {},
    connect_timeout: 10,
    types: { bigint: bigintAsNumber },
  });
  try {
    await sql`SELECT 1`;
    await migratePostgres(sql, options.migrationLockTimeoutMs);
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    const schemaNewer = error instanceof MagsError && error.code === 'state_schema_newer';
    throw new DependencyMissingError(
      `Cannot use the PostgreSQL state database at ${redactUrl(url)}: ${describeError(error)}`,
      {
        cause: error,
        code: schemaNewer ? 'state_schema_newer' : 'state_unavailable',
        hint: schemaNewer ? (error as MagsError).hint : hintFor(error, url),
      },
    );
  }
  return { sql };
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // postgres.js takes no `?password=` (it would send it to the server as a setting, refused):
    // hidden anyway, in case someone writes one.
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    return 'an unparsable postgres:// URL';
  }
}

function describeError(error: unknown): string {
  if (error instanceof MagsError) return error.message;
  if (error instanceof Error)
    return (error as { code?: string }).code
      ? `${error.message} (${(error as { code?: string }).code})`
      : error.message;
  return String(error);
}

/** What to do about a failed connection, by the error's code (PostgreSQL's SQLSTATE or errno). */
function hintFor(error: unknown, url: string): string {
  const code = (error as { code?: string }).code;
  let where = 'that host and port';
  let database = 'NAME';
  try {
    const parsed = new URL(url);
    where = `${parsed.hostname}:${parsed.port || '5432'}`;
    database = decodeURIComponent(parsed.pathname.slice(1)) || database;
  } catch {}
  switch (code) {
    case 'ECONNREFUSED':
      return `Nothing accepts connections at ${where}: start PostgreSQL there (scripts/postgres.sh start to try one locally) or fix the host and port in --state.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The host of ${where} is not known here: check its name in --state.`;
    case 'CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return `No answer from ${where}: check that the host is reachable from here and that a firewall lets the port through.`;
    // https://www.postgresql.org/docs/current/errcodes-appendix.html
    case '3D000':
      return `Create the database first (createdb ${database}, or CREATE DATABASE as a superuser), or name an existing one in --state.`;
    case '28P01':
    case '28000':
      return 'PostgreSQL refused this user or password: check them in --state (and pg_hba.conf on the server).';
    case '55P03':
      return 'The schema upgrade waited too long for a lock: another server is migrating this database, or a long transaction holds a mags table. See pg_stat_activity and pg_locks on the server, end what is stuck, and start again.';
    case '42501':
      return 'The user may not create tables in this database: grant it CREATE on the schema, or use the database owner.';
    default:
      return 'Check that PostgreSQL runs and accepts this user on that host and port, and that the database exists (createdb NAME).';
  }
}
