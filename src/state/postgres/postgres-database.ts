import postgres from 'postgres';
import { DependencyMissingError } from '../../errors/mags-error.ts';
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
    throw new DependencyMissingError(
      `Cannot use the PostgreSQL state database at ${redactUrl(url)}: ${describeError(error)}`,
      {
        cause: error,
        code: 'state_unavailable',
        hint: 'Check that PostgreSQL runs and accepts this user on that host and port, and that the database exists (createdb NAME).',
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
    return parsed.toString();
  } catch {
    return 'an unparsable postgres:// URL';
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error)
    return (error as { code?: string }).code
      ? `${error.message} (${(error as { code?: string }).code})`
      : error.message;
  return String(error);
}
