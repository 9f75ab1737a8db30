import type { DatabaseSync } from 'node:sqlite';

/**
 * The schema as ordered steps: step N brings a database from version N-1 to N
 * (`PRAGMA user_version`), so any older state.db is upgraded in place, one step at a time.
 * A step runs in its own transaction with the version bump, unless it says it cannot. A new
 * version appends a step; a step is never edited once released, because databases in the field
 * are at every version in between.
 */
export interface Migration {
  sql: string;
  /** VACUUM cannot run inside a transaction. */
  outsideTransaction?: true;
  /**
   * The step only improves the database, so its failure is logged and the version still moves
   * on: what is logged says what was not done and what it costs.
   */
  optional?: string;
}

export const sqliteMigrations: readonly Migration[] = [
  // 1: the first schema.
  {
    sql: `
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
);`,
  },
  // 2: explicit admin tokens.
  { sql: 'ALTER TABLE tokens ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;' },
  // 3: log retention: when and why a finished job's output was removed; oldest finished first.
  {
    sql: `
ALTER TABLE jobs ADD COLUMN logs_removed_at TEXT;
ALTER TABLE jobs ADD COLUMN logs_removed_reason TEXT;
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at) WHERE logs_removed_at IS NULL;`,
  },
  // 4: give the space of removed output back to the filesystem. SQLite never shrinks its file on
  // DELETE; in incremental mode `PRAGMA incremental_vacuum` does, and an existing database only
  // switches to it through a VACUUM (https://sqlite.org/pragma.html#pragma_auto_vacuum).
  {
    sql: 'PRAGMA auto_vacuum = INCREMENTAL; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);',
    outsideTransaction: true,
    // VACUUM rewrites the whole file and needs about twice its size free: on the nearly full
    // disk that retention exists for it fails (SQLITE_FULL), and the server must still start.
    optional:
      'could not switch to incremental auto-vacuum (VACUUM needs about twice the database in free disk); removed job output is reused inside state.db but the file does not shrink',
  },
  // 5: sandboxes outlive the server: which host and which server process owns each job and
  // sandbox (rows from before have none and are recovered the old way); what a run job needs to
  // be finished by another server process; which server took over a dead one's work.
  {
    sql: `
ALTER TABLE jobs ADD COLUMN host TEXT;
ALTER TABLE jobs ADD COLUMN server TEXT;
ALTER TABLE jobs ADD COLUMN run_options TEXT;
ALTER TABLE sandboxes ADD COLUMN host TEXT;
ALTER TABLE sandboxes ADD COLUMN server TEXT;
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (host, server) WHERE status IN ('queued', 'running');
CREATE TABLE IF NOT EXISTS server_takeovers (
  server TEXT PRIMARY KEY, host TEXT NOT NULL, successor TEXT NOT NULL, at TEXT NOT NULL
);`,
  },
  // 6: how a job ended as an enum (end-reason.ts) and what to tell a person about it (older
  // finished jobs get the enum their status implies); the sandbox a run job runs in, recorded
  // when it starts (`mags run --json` reports it).
  {
    sql: `
ALTER TABLE jobs ADD COLUMN end_reason TEXT;
ALTER TABLE jobs ADD COLUMN message TEXT;
ALTER TABLE jobs ADD COLUMN sandbox_id TEXT;
UPDATE jobs SET end_reason = CASE
  WHEN status = 'succeeded' THEN 'exited'
  WHEN status = 'stopped' THEN 'stopped'
  WHEN reason = 'timed out' THEN 'timed_out'
  WHEN reason LIKE 'out of memory%' THEN 'oom_killed'
  WHEN exit_code IS NOT NULL THEN 'exited'
  ELSE 'failed' END
WHERE status IN ('succeeded', 'failed', 'stopped');`,
  },
  // 7: projects and tickets (GUIDE §5). A ticket's rows in the other tables go with it; no
  // foreign keys, so a store without them (or a ticket written before its project in a test)
  // behaves the same: deleteProject removes them in one transaction. `seq` orders tickets
  // newest first; JSON columns hold what the API's schemas describe.
  {
    sql: `
CREATE TABLE IF NOT EXISTS projects (
  owner TEXT NOT NULL, name TEXT NOT NULL, repo TEXT NOT NULL, ref TEXT, workspace TEXT NOT NULL,
  commit_id TEXT, setup_tree TEXT, setup TEXT, test TEXT, model TEXT, config TEXT NOT NULL, status TEXT NOT NULL,
  reason TEXT, network INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (owner, name)
);
CREATE TABLE IF NOT EXISTS tickets (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
  project TEXT NOT NULL, title TEXT NOT NULL, request TEXT NOT NULL, criteria TEXT NOT NULL,
  role TEXT NOT NULL, model TEXT, budget TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
  workspace TEXT, base_commit TEXT, base_tree TEXT, attempt INTEGER NOT NULL, usage TEXT NOT NULL, branch TEXT,
  commit_id TEXT, history TEXT NOT NULL, comments_through INTEGER NOT NULL DEFAULT 0, host TEXT,
  server TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_owner ON tickets (owner, project, seq);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets (status);
CREATE TABLE IF NOT EXISTS ticket_events (
  ticket_id TEXT NOT NULL, id INTEGER NOT NULL, attempt INTEGER NOT NULL, at TEXT NOT NULL,
  data TEXT NOT NULL, PRIMARY KEY (ticket_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ticket_evidence (
  ticket_id TEXT NOT NULL, attempt INTEGER NOT NULL, evidence TEXT NOT NULL,
  PRIMARY KEY (ticket_id, attempt)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ticket_bundles (ticket_id TEXT PRIMARY KEY, bundle BLOB NOT NULL);`,
  },
  // 8: plans of tickets (issue 13); a ticket records the plan it belongs to.
  {
    sql: `
CREATE TABLE IF NOT EXISTS plans (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
  project TEXT NOT NULL, request TEXT NOT NULL, summary TEXT, status TEXT NOT NULL, reason TEXT,
  model TEXT, auto INTEGER NOT NULL, auto_approve INTEGER NOT NULL, max_parallel INTEGER NOT NULL,
  budget TEXT NOT NULL, usage TEXT NOT NULL, tickets TEXT NOT NULL, base_commit TEXT,
  integration TEXT, branch TEXT, commit_id TEXT, approved_at TEXT, host TEXT, server TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS plans_owner ON plans (owner, project, seq);
CREATE INDEX IF NOT EXISTS plans_status ON plans (status);
CREATE TABLE IF NOT EXISTS plan_events (
  plan_id TEXT NOT NULL, id INTEGER NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (plan_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS plan_evidence (plan_id TEXT PRIMARY KEY, evidence TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plan_bundles (plan_id TEXT PRIMARY KEY, bundle BLOB NOT NULL);
ALTER TABLE tickets ADD COLUMN plan_id TEXT;
CREATE INDEX IF NOT EXISTS tickets_plan ON tickets (plan_id);`,
  },
  // 9: triggers (background agents) and what each firing did; webhook deliveries seen, against replays.
  {
    sql: `
CREATE TABLE IF NOT EXISTS triggers (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
  name TEXT NOT NULL, project TEXT NOT NULL, kind TEXT NOT NULL, spec TEXT NOT NULL, secret TEXT,
  paused INTEGER NOT NULL DEFAULT 0, last_fired_at TEXT, next_fire_at TEXT,
  version INTEGER NOT NULL DEFAULT 0, last_scheduled_at TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (owner, name)
);
CREATE TABLE IF NOT EXISTS trigger_firings (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, trigger_id TEXT NOT NULL,
  owner TEXT NOT NULL, at TEXT NOT NULL, scheduled_at TEXT, source TEXT NOT NULL, dedupe_key TEXT,
  status TEXT NOT NULL, reason TEXT, ticket_id TEXT, plan_id TEXT, payload TEXT,
  chain TEXT NOT NULL DEFAULT '[]', repeats INTEGER NOT NULL DEFAULT 1, reserved_usd REAL,
  active INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS trigger_firings_trigger ON trigger_firings (trigger_id, seq);
CREATE INDEX IF NOT EXISTS trigger_firings_status ON trigger_firings (trigger_id, status, seq);
CREATE INDEX IF NOT EXISTS trigger_firings_key ON trigger_firings (trigger_id, dedupe_key, seq);
CREATE INDEX IF NOT EXISTS trigger_firings_active ON trigger_firings (trigger_id) WHERE active = 1;
CREATE INDEX IF NOT EXISTS trigger_firings_ticket ON trigger_firings (ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS trigger_firings_plan ON trigger_firings (plan_id) WHERE plan_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  trigger_id TEXT NOT NULL, delivery TEXT NOT NULL, signed_at TEXT NOT NULL,
  PRIMARY KEY (trigger_id, delivery)
) WITHOUT ROWID;`,
  },
  // 10: cron jobs and their runs (each run an ordinary job, whose origin names the cron job).
  {
    sql: `
CREATE TABLE IF NOT EXISTS cron_jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
  name TEXT NOT NULL, spec TEXT NOT NULL, paused INTEGER NOT NULL DEFAULT 0, last_run_at TEXT,
  next_run_at TEXT, resumed_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  UNIQUE (owner, name)
);
CREATE TABLE IF NOT EXISTS cron_runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, cron_id TEXT NOT NULL,
  owner TEXT NOT NULL, scheduled_at TEXT NOT NULL, at TEXT NOT NULL, status TEXT NOT NULL,
  trigger TEXT NOT NULL, reason TEXT, missed_count INTEGER,
  missed_count_is_lower_bound INTEGER NOT NULL DEFAULT 0, missed_until TEXT,
  skipped_count INTEGER, skipped_until TEXT, job_id TEXT
);
CREATE INDEX IF NOT EXISTS cron_runs_cron ON cron_runs (cron_id, seq);
ALTER TABLE jobs ADD COLUMN origin TEXT;
CREATE INDEX IF NOT EXISTS jobs_origin ON jobs (origin, status) WHERE origin IS NOT NULL;`,
  },
  // 11: several runtimes side by side (issue 15): the one each job and sandbox runs on; every
  // row from before ran on the only runtime there was.
  {
    sql: `
ALTER TABLE jobs ADD COLUMN runtime TEXT NOT NULL DEFAULT 'namespace';
ALTER TABLE sandboxes ADD COLUMN runtime TEXT NOT NULL DEFAULT 'namespace';`,
  },
  // 12: URLs to sandboxes' ports (issue 16): whose, which sandbox (by name and the creation time
  // of the one it was made for) and port, public or not, when it expires or was revoked.
  {
    sql: `
CREATE TABLE IF NOT EXISTS sandbox_urls (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, sandbox TEXT NOT NULL,
  sandbox_created_at TEXT NOT NULL, port INTEGER NOT NULL, public INTEGER NOT NULL DEFAULT 0,
  host_label TEXT, created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS sandbox_urls_owner ON sandbox_urls (owner, sandbox);
CREATE INDEX IF NOT EXISTS sandbox_urls_host ON sandbox_urls (host_label) WHERE host_label IS NOT NULL;`,
  },
  // 13: several hosts (issue 17): each host's server, capacity, warm workspaces and heartbeat;
  // the job queue (jobs placed on a host, not yet taken by a server process), oldest first; a
  // host's live sandboxes, for when it is found gone. Lists as JSON, as elsewhere.
  {
    sql: `
CREATE TABLE IF NOT EXISTS hosts (
  id TEXT PRIMARY KEY, server TEXT NOT NULL, address TEXT, runtimes TEXT NOT NULL,
  max_jobs INTEGER NOT NULL, running_jobs INTEGER NOT NULL, warm_workspaces TEXT NOT NULL,
  started_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL, gone_at TEXT, gone_reason TEXT
);
CREATE INDEX IF NOT EXISTS jobs_queued ON jobs (host, created_at, seq) WHERE status = 'queued' AND server IS NULL;
CREATE INDEX IF NOT EXISTS sandboxes_live ON sandboxes (host) WHERE status IN ('running', 'sleeping');`,
  },
];

/**
 * Brings the database to the latest version, one step per transaction, so a crash between
 * steps leaves a database at a version the next start continues from. The version is read
 * inside each write transaction: a server and a `mags token` command opening the same file at
 * once never run a step twice (a step that must run outside a transaction, such as VACUUM, is
 * harmless to repeat). A database newer than this code is refused rather than written to with an
 * older idea of the schema.
 */
export function migrateSqlite(
  database: DatabaseSync,
  migrations: readonly Migration[] = sqliteMigrations,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): void {
  const latest = migrations.length;
  // The usual case, a database already at the latest version, is one read of the header and
  // no write lock (every process that opens the database comes here: each CLI run does).
  if (userVersion(database) === latest) return;
  for (;;) {
    database.exec('BEGIN IMMEDIATE');
    try {
      const version = userVersion(database);
      if (version > latest) {
        throw new Error(
          `the database is at schema version ${version}, newer than this mags (${latest}); upgrade mags`,
        );
      }
      if (version === latest) {
        database.exec('COMMIT');
        return;
      }
      const migration = migrations[version] as Migration;
      if (migration.outsideTransaction) {
        database.exec('COMMIT');
        try {
          database.exec(migration.sql);
        } catch (error) {
          if (!migration.optional) throw error;
          if (database.isTransaction) database.exec('ROLLBACK');
          log(
            `mags: state.db migration ${version + 1}: ${migration.optional} (${(error as Error).message})`,
          );
        }
        database.exec('BEGIN IMMEDIATE');
        if (userVersion(database) !== version) {
          database.exec('COMMIT');
          continue; // another process finished this step meanwhile
        }
      } else {
        database.exec(migration.sql);
      }
      database.exec(`PRAGMA user_version = ${version + 1}`);
      database.exec('COMMIT');
    } catch (error) {
      if (database.isTransaction) database.exec('ROLLBACK');
      throw error;
    }
  }
}

function userVersion(database: DatabaseSync): number {
  const row = database.prepare('PRAGMA user_version').get() as { user_version: number };
  return Number(row.user_version);
}
