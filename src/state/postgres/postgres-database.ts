import postgres from 'postgres';
import { DependencyMissingError, MagsError } from '../../errors/mags-error.ts';
import { migratePostgres } from './postgres-migrations.ts';

/** The client (`postgres` from npm): a tagged template, `sql\`SELECT … ${value}\``, with a pool. */
export type Sql = postgres.Sql;
/** A transaction's client (`sql.begin(async (tx) => …)`): the same tagged template. */
export type TransactionSql = postgres.TransactionSql;

export interface PostgresStateRepositoryOptions {
  /** Connections in the pool (default 10): a server's requests, its job logs and its listeners. */
  maxConnections?: number;
}

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
    max: options.maxConnections ?? 10,
    // Notices ("relation already exists, skipping") are not for the server's output.
    onnotice: () => {},
    connect_timeout: 10,
    // BIGINT columns (byte offsets, sizes) come back as numbers: they stay far below 2^53.
    types: { bigint: postgres.BigInt },
  });
  try {
    await sql`SELECT 1`;
    await migratePostgres(sql);
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
    // The client also takes the password as a parameter (`?password=…`).
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
    case '42501':
      return 'The user may not create tables in this database: grant it CREATE on the schema, or use the database owner.';
    default:
      return 'Check that PostgreSQL runs and accepts this user on that host and port, and that the database exists (createdb NAME).';
  }
}
