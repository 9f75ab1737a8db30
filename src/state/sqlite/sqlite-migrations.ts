import type { DatabaseSync } from 'node:sqlite';

/**
 * The schema as an ordered list of steps: step N takes a database from `PRAGMA user_version`
 * N to N + 1. A new version appends a step; a step is never edited once released, because
 * databases in the field are at every version in between.
 */
export const sqliteMigrations: readonly string[] = [
  // 0 → 1: the first schema.
  `
  CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL, revoked_at TEXT
  );
  CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
    kind TEXT NOT NULL, sandbox TEXT, argv TEXT NOT NULL, workspace TEXT, status TEXT NOT NULL,
    exit_code INTEGER, signal TEXT, reason TEXT, created_at TEXT NOT NULL, started_at TEXT,
    finished_at TEXT, log_bytes INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, seq);
  CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
  CREATE TABLE IF NOT EXISTS job_logs (
    job_id TEXT NOT NULL, offset INTEGER NOT NULL, stream TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (job_id, offset)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS sandboxes (
    owner TEXT NOT NULL, name TEXT NOT NULL, runtime_id TEXT, workspace TEXT, status TEXT NOT NULL,
    options TEXT NOT NULL, reason TEXT, created_at TEXT NOT NULL, last_active_at TEXT NOT NULL,
    PRIMARY KEY (owner, name)
  );
  CREATE TABLE IF NOT EXISTS workspaces (
    owner TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL, last_used_at TEXT NOT NULL,
    PRIMARY KEY (owner, name)
  );
  `,
  // 1 → 2: an explicit admin role on tokens (host-wide figures); every existing token is not one.
  'ALTER TABLE tokens ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;',
];

/**
 * Brings the database to the latest version, one step per transaction, so a crash between
 * steps leaves a database at a version the next start continues from. The version is read
 * inside each write transaction: a server and a `mags token` command opening the same file at
 * once never run a step twice. A database newer than this code is refused rather than written
 * to with an older idea of the schema.
 */
export function migrateSqlite(database: DatabaseSync): void {
  const latest = sqliteMigrations.length;
  for (;;) {
    database.exec('BEGIN IMMEDIATE');
    try {
      const row = database.prepare('PRAGMA user_version').get() as { user_version: number };
      const version = Number(row.user_version);
      if (version > latest) {
        throw new Error(
          `the database is at schema version ${version}, newer than this mags (${latest}); upgrade mags`,
        );
      }
      if (version === latest) {
        database.exec('COMMIT');
        return;
      }
      database.exec(sqliteMigrations[version] as string);
      database.exec(`PRAGMA user_version = ${version + 1}`);
      database.exec('COMMIT');
    } catch (error) {
      database.exec('ROLLBACK');
      throw error;
    }
  }
}
