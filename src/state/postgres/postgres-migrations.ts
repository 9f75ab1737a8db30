import { DependencyMissingError } from '../../errors/mags-error.ts';
import { advisoryLockKeys } from './postgres-advisory-lock.ts';
import type { Sql } from './postgres-database.ts';

/**
 * The schema, one step per version, applied in order on start: the version reached is kept in
 * `mags_schema` so that each step runs once. A step never changes after it ships; a change is a
 * new step at the end. Several servers starting at once on one database serialise on an advisory
 * lock, so a step never runs twice.
 */
export interface PostgresMigration {
  version: number;
  description: string;
  sql: string;
}

export const postgresMigrations: PostgresMigration[] = [
  // 1: tokens, jobs and their output, sandboxes, workspaces, server takeovers, projects and
  // sandbox URLs: SQLite's tables of its migrations 1-12, named the same. Timestamps stay the
  // ISO text the interface passes around, and every text a query orders or compares by `<` is
  // COLLATE "C" (byte order, as SQLite's BINARY), whatever the database's locale. JSON is TEXT:
  // JSONB would reorder keys and refuses the \u0000 escape that an argv may hold.
  {
    version: 1,
    description: 'tokens, jobs, job logs, sandboxes, workspaces, takeovers, projects, URLs',
    sql: `
CREATE TABLE tokens (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
  created_at TEXT COLLATE "C" NOT NULL, revoked_at TEXT, admin BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX tokens_owner ON tokens (owner, created_at);
CREATE TABLE jobs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL, kind TEXT NOT NULL, sandbox TEXT, argv TEXT NOT NULL, workspace TEXT,
  status TEXT NOT NULL, exit_code INTEGER, signal TEXT, reason TEXT, end_reason TEXT,
  message TEXT, sandbox_id TEXT, created_at TEXT NOT NULL, started_at TEXT,
  finished_at TEXT COLLATE "C", log_bytes BIGINT NOT NULL DEFAULT 0, logs_removed_at TEXT,
  logs_removed_reason TEXT, host TEXT, server TEXT, run_options TEXT, origin TEXT,
  runtime TEXT NOT NULL DEFAULT 'namespace'
);
CREATE INDEX jobs_owner ON jobs (owner, seq);
CREATE INDEX jobs_status ON jobs (status);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE logs_removed_at IS NULL;
CREATE INDEX jobs_unfinished ON jobs (host, server) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_origin ON jobs (origin, status) WHERE origin IS NOT NULL;
CREATE TABLE job_logs (
  job_id TEXT NOT NULL, "offset" BIGINT NOT NULL, stream TEXT NOT NULL, data BYTEA NOT NULL,
  PRIMARY KEY (job_id, "offset")
);
CREATE TABLE sandboxes (
  owner TEXT NOT NULL, name TEXT COLLATE "C" NOT NULL, runtime_id TEXT, workspace TEXT,
  status TEXT NOT NULL, options TEXT NOT NULL, reason TEXT, created_at TEXT NOT NULL,
  last_active_at TEXT NOT NULL, host TEXT, server TEXT, runtime TEXT NOT NULL DEFAULT 'namespace',
  PRIMARY KEY (owner, name)
);
CREATE INDEX sandboxes_unfinished ON sandboxes (host, server) WHERE status IN ('running', 'sleeping');
CREATE TABLE workspaces (
  owner TEXT NOT NULL, name TEXT COLLATE "C" NOT NULL, created_at TEXT NOT NULL,
  last_used_at TEXT NOT NULL, PRIMARY KEY (owner, name)
);
CREATE TABLE server_takeovers (
  server TEXT PRIMARY KEY, host TEXT NOT NULL, successor TEXT NOT NULL, at TEXT NOT NULL
);
CREATE INDEX server_takeovers_successor ON server_takeovers (successor);
CREATE TABLE projects (
  owner TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL, repo TEXT NOT NULL, ref TEXT,
  workspace TEXT NOT NULL, commit_id TEXT, setup_tree TEXT, setup TEXT, test TEXT, model TEXT,
  config TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, network BOOLEAN NOT NULL DEFAULT false,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (owner, name)
);
CREATE INDEX projects_status ON projects (status);
CREATE TABLE sandbox_urls (
  id TEXT COLLATE "C" PRIMARY KEY, owner TEXT NOT NULL, sandbox TEXT NOT NULL,
  sandbox_created_at TEXT NOT NULL, port INTEGER NOT NULL, public BOOLEAN NOT NULL DEFAULT false,
  host_label TEXT, created_at TEXT COLLATE "C" NOT NULL, expires_at TEXT COLLATE "C",
  revoked_at TEXT COLLATE "C"
);
CREATE INDEX sandbox_urls_owner ON sandbox_urls (owner, sandbox);
CREATE INDEX sandbox_urls_host ON sandbox_urls (host_label) WHERE host_label IS NOT NULL;`,
  },
  // 2: tickets (events, evidence, bundles), plans (the same), triggers with their firings and
  // webhook deliveries, cron jobs and runs: SQLite's steps 7 to 10, tables and columns named as
  // there. JSON is TEXT, the exact text written: JSONB would reorder keys and refuses \u0000,
  // which command output in an event may hold (postgresql.org/docs/15/datatype-json.html).
  // Times are the TEXT the interface passes, compared as bytes (COLLATE "C", as SQLite does)
  // wherever they are ordered: a database's own collation may order text otherwise.
  {
    version: 2,
    description: 'tickets, plans, triggers and cron jobs',
    sql: `
CREATE TABLE tickets (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
  project TEXT NOT NULL, title TEXT NOT NULL, request TEXT NOT NULL, criteria TEXT NOT NULL,
  role TEXT NOT NULL, model TEXT, budget TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
  workspace TEXT, base_commit TEXT, base_tree TEXT, attempt INTEGER NOT NULL, usage TEXT NOT NULL,
  branch TEXT, commit_id TEXT, history TEXT NOT NULL, comments_through INTEGER NOT NULL DEFAULT 0,
  host TEXT, server TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, plan_id TEXT
);
CREATE INDEX tickets_owner ON tickets (owner, project, seq);
CREATE INDEX tickets_status ON tickets (status);
CREATE INDEX tickets_plan ON tickets (plan_id);
CREATE TABLE ticket_events (
  ticket_id TEXT NOT NULL, id INTEGER NOT NULL, attempt INTEGER NOT NULL, at TEXT NOT NULL,
  data TEXT NOT NULL, PRIMARY KEY (ticket_id, id)
);
CREATE TABLE ticket_evidence (
  ticket_id TEXT NOT NULL, attempt INTEGER NOT NULL, evidence TEXT NOT NULL,
  PRIMARY KEY (ticket_id, attempt)
);
CREATE TABLE ticket_bundles (ticket_id TEXT PRIMARY KEY, bundle BYTEA NOT NULL);
CREATE TABLE plans (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
  project TEXT NOT NULL, request TEXT NOT NULL, summary TEXT, status TEXT NOT NULL, reason TEXT,
  model TEXT, auto BOOLEAN NOT NULL, auto_approve BOOLEAN NOT NULL, max_parallel INTEGER NOT NULL,
  budget TEXT NOT NULL, usage TEXT NOT NULL, tickets TEXT NOT NULL, base_commit TEXT,
  integration TEXT, branch TEXT, commit_id TEXT, approved_at TEXT, host TEXT, server TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX plans_owner ON plans (owner, project, seq);
CREATE INDEX plans_status ON plans (status);
CREATE TABLE plan_events (
  plan_id TEXT NOT NULL, id INTEGER NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (plan_id, id)
);
CREATE TABLE plan_evidence (plan_id TEXT PRIMARY KEY, evidence TEXT NOT NULL);
CREATE TABLE plan_bundles (plan_id TEXT PRIMARY KEY, bundle BYTEA NOT NULL);
CREATE TABLE triggers (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
  name TEXT NOT NULL, project TEXT NOT NULL, kind TEXT NOT NULL, spec TEXT NOT NULL, secret TEXT,
  paused BOOLEAN NOT NULL DEFAULT false, last_fired_at TEXT, next_fire_at TEXT,
  version INTEGER NOT NULL DEFAULT 0, last_scheduled_at TEXT COLLATE "C",
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (owner, name)
);
CREATE TABLE trigger_firings (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,
  trigger_id TEXT NOT NULL, owner TEXT NOT NULL, at TEXT COLLATE "C" NOT NULL, scheduled_at TEXT,
  source TEXT NOT NULL, dedupe_key TEXT, status TEXT NOT NULL, reason TEXT, ticket_id TEXT,
  plan_id TEXT, payload TEXT, chain TEXT NOT NULL DEFAULT '[]', repeats INTEGER NOT NULL DEFAULT 1,
  reserved_usd DOUBLE PRECISION, active BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX trigger_firings_trigger ON trigger_firings (trigger_id, seq);
CREATE INDEX trigger_firings_status ON trigger_firings (trigger_id, status, seq);
CREATE INDEX trigger_firings_key ON trigger_firings (trigger_id, dedupe_key, seq);
CREATE INDEX trigger_firings_active ON trigger_firings (trigger_id) WHERE active;
CREATE INDEX trigger_firings_ticket ON trigger_firings (ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX trigger_firings_plan ON trigger_firings (plan_id) WHERE plan_id IS NOT NULL;
CREATE TABLE webhook_deliveries (
  trigger_id TEXT NOT NULL, delivery TEXT NOT NULL, signed_at TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (trigger_id, delivery)
);
CREATE TABLE cron_jobs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
  name TEXT NOT NULL, spec TEXT NOT NULL, paused BOOLEAN NOT NULL DEFAULT false,
  last_run_at TEXT COLLATE "C", next_run_at TEXT, resumed_at TEXT, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL, UNIQUE (owner, name)
);
CREATE TABLE cron_runs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,
  cron_id TEXT NOT NULL, owner TEXT NOT NULL, scheduled_at TEXT NOT NULL,
  at TEXT COLLATE "C" NOT NULL, status TEXT NOT NULL, trigger TEXT NOT NULL, reason TEXT,
  missed_count INTEGER, missed_count_is_lower_bound BOOLEAN NOT NULL DEFAULT false,
  missed_until TEXT, skipped_count INTEGER, skipped_until TEXT, job_id TEXT
);
CREATE INDEX cron_runs_cron ON cron_runs (cron_id, seq);
CREATE INDEX cron_runs_unsubmitted ON cron_runs (at) WHERE status = 'started' AND job_id IS NULL;
CREATE INDEX cron_runs_job ON cron_runs (job_id) WHERE job_id IS NOT NULL;`,
  },
  // 3: several hosts (SQLite's migration 13): each host's server, capacity, warm workspaces and
  // heartbeat (lists as TEXT[], so placement can ask `$1 = ANY (warm_workspaces)`); the job
  // queue, oldest first in byte order as SQLite's. The live sandboxes of a host have
  // sandboxes_unfinished already.
  {
    version: 3,
    description: 'hosts, the job queue',
    sql: `
CREATE TABLE hosts (
  id TEXT COLLATE "C" PRIMARY KEY, server TEXT NOT NULL, address TEXT, runtimes TEXT[] NOT NULL,
  max_jobs INTEGER NOT NULL, running_jobs INTEGER NOT NULL, warm_workspaces TEXT[] NOT NULL,
  started_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL, gone_at TEXT, gone_reason TEXT
);
CREATE INDEX jobs_queued ON jobs (host, created_at COLLATE "C", seq)
  WHERE status = 'queued' AND server IS NULL;`,
  },
];

/**
 * How long the migration waits for a lock (another server's migration, a long transaction on a
 * table it changes) before it fails with a clear error rather than hanging the start forever.
 */
export const migrationLockTimeoutMs = 60_000;

export async function migratePostgres(
  sql: Sql,
  lockTimeoutMs = migrationLockTimeoutMs,
): Promise<void> {
  await sql.begin(async (tx) => {
    // lock_timeout covers advisory locks too (https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-LOCK-TIMEOUT).
    await tx`SELECT set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`;
    await tx`SELECT pg_advisory_xact_lock(${advisoryLockKeys.migration})`;
    await tx`CREATE TABLE IF NOT EXISTS mags_schema (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`;
    const [row] = await tx<
      { version: number | null }[]
    >`SELECT max(version) AS version FROM mags_schema`;
    const current = row?.version ?? 0;
    const latest = postgresMigrations.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new DependencyMissingError(
        `its schema is version ${current}, newer than this mags knows (${latest}): a newer mags has used it`,
        {
          code: 'state_schema_newer',
          hint: 'Upgrade this server to the version the other servers on this database run; nothing was written.',
        },
      );
    }
    for (const migration of postgresMigrations) {
      if (migration.version <= current) continue;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO mags_schema (version) VALUES (${migration.version})`;
    }
  });
}
