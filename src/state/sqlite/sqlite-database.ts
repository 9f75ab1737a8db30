import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { DependencyMissingError } from '../../errors/mags-error.ts';
import { migrateSqlite } from './sqlite-migrations.ts';
import { createSpaceReclaimer } from './sqlite-space-reclaimer.ts';

export type Row = Record<string, SQLInputValue>;

/** A nullable text column (the row mappers' helper, src/state/rows/row-values.ts). */
export { text } from '../rows/row-values.ts';

export interface SqliteStateRepositoryOptions {
  /**
   * Pages in the write-ahead log that trigger a checkpoint (SQLite's default: 1000). A process
   * that exits without closing the database (the CLI after a run: a close checkpoints, with
   * fsyncs) leaves the log to the next opener, which reads it all once; a smaller bound keeps
   * that read short.
   */
  walAutocheckpointPages?: number;
}

/** What the statement groups of the repository share: the database and ways to run SQL on it. */
export interface SqliteDatabase {
  database: DatabaseSync;
  /** Prepares `sql` now (a statement whose text varies, or one used rarely). */
  statement(sql: string): StatementSync;
  /**
   * Prepared on first use, then kept: a short-lived process (a CLI run) prepares only what it
   * uses.
   */
  prepared(sql: string): () => StatementSync;
  /**
   * `UPDATE table SET column = ?, … WHERE <where.sql>` for the fields of `update` that are
   * defined (an undefined field is left as it is; null clears it): each field's column from
   * `columns` (a field without one is a bug, thrown), its value through `toColumnValue` (default:
   * a boolean as 0 or 1, the rest as they are). Prepared once per set of columns. With no field
   * defined nothing runs. Returns how many rows changed.
   */
  updateColumns<Update extends object>(
    table: string,
    columns: { readonly [Key in keyof Update]-?: string },
    update: Update,
    where: { sql: string; values: SQLInputValue[] },
    toColumnValue?: (column: string, value: unknown) => SQLInputValue,
  ): number;
  /** Runs `work` in one write transaction (`BEGIN IMMEDIATE`), rolled back if it throws. */
  transaction(work: () => void): void;
  /** Gives freed pages back to the filesystem, in steps (sqlite-space-reclaimer.ts). */
  reclaimSpace(): Promise<void>;
}

/**
 * Opens (creating) the database with the pragmas `createSqliteStateRepository` explains, and
 * brings its schema up to date.
 */
export function openSqliteDatabase(
  path: string,
  options: SqliteStateRepositoryOptions,
): SqliteDatabase {
  let database: DatabaseSync;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    database = new DatabaseSync(path);
    // A checkpoint cuts the write-ahead log back to `journal_size_limit`; without a limit it
    // keeps the largest size it ever reached (a purge or a migration's VACUUM writes a lot).
    database.exec(
      `PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
       PRAGMA journal_size_limit = ${8 * 1024 * 1024};
       PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;
       ${options.walAutocheckpointPages === undefined ? '' : `PRAGMA wal_autocheckpoint = ${options.walAutocheckpointPages};`}`,
    );
    migrateSqlite(database);
  } catch (error) {
    throw new DependencyMissingError(`Cannot open the state database ${path}: ${String(error)}`, {
      cause: error,
      code: 'state_unavailable',
      hint: 'Check that the directory is writable and the disk is not full (MAGS_HOME sets where it lives).',
    });
  }
  let reclaimer: (() => Promise<void>) | undefined;
  const updates = new Map<string, StatementSync>();
  return {
    database,
    statement: (sql) => database.prepare(sql),
    prepared(sql) {
      let kept: StatementSync | undefined;
      return () => {
        kept ??= database.prepare(sql);
        return kept;
      };
    },
    updateColumns(table, columns, update, where, toColumnValue = defaultColumnValue) {
      const set = Object.entries(update)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]): [string, SQLInputValue] => {
          const column = (columns as Record<string, string | undefined>)[key];
          if (!column) throw new Error(`update of ${table}: no column for ${key}`);
          return [column, toColumnValue(column, value)];
        });
      if (set.length === 0) return 0;
      const sql = `UPDATE ${table} SET ${set.map(([column]) => `${column} = ?`).join(', ')} WHERE ${where.sql}`;
      let prepared = updates.get(sql);
      if (!prepared) {
        prepared = database.prepare(sql);
        updates.set(sql, prepared);
      }
      const result = prepared.run(...set.map(([, value]) => value), ...where.values);
      return Number(result.changes);
    },
    transaction(work) {
      database.exec('BEGIN IMMEDIATE');
      try {
        work();
        database.exec('COMMIT');
      } catch (error) {
        database.exec('ROLLBACK');
        throw error;
      }
    },
    reclaimSpace() {
      reclaimer ??= createSpaceReclaimer(database);
      return reclaimer();
    },
  };
}

function defaultColumnValue(_column: string, value: unknown): SQLInputValue {
  return typeof value === 'boolean' ? Number(value) : (value as SQLInputValue);
}
