import type { StateRepository } from '../state-repository.ts';
import { sqliteCronStatements } from './sqlite-cron-statements.ts';
import { openSqliteDatabase, type SqliteStateRepositoryOptions } from './sqlite-database.ts';
import { sqliteHostStatements } from './sqlite-host-statements.ts';
import { sqliteJobStatements } from './sqlite-job-statements.ts';
import { sqliteLogStatements } from './sqlite-log-statements.ts';
import { sqlitePlanStatements } from './sqlite-plan-statements.ts';
import { sqliteProjectStatements } from './sqlite-project-statements.ts';
import { sqliteRecoveryStatements } from './sqlite-recovery-statements.ts';
import { sqliteSandboxStatements } from './sqlite-sandbox-statements.ts';
import { sqliteTicketEventStatements } from './sqlite-ticket-event-statements.ts';
import { sqliteTicketStatements } from './sqlite-ticket-statements.ts';
import { sqliteTokenStatements } from './sqlite-token-statements.ts';
import { sqliteTriggerStatements } from './sqlite-trigger-statements.ts';
import { sqliteUrlStatements } from './sqlite-url-statements.ts';

export type { SqliteStateRepositoryOptions } from './sqlite-database.ts';

/**
 * The embedded default: one SQLite file (Node's built-in `node:sqlite`, no native dependency).
 * WAL mode lets the CLI read while a server writes; `synchronous = NORMAL` keeps every committed
 * transaction through a process crash (SIGKILL), which is the failure the server must survive.
 * The statements are grouped by what they store: tokens, jobs, their logs, sandboxes and
 * workspaces, the recovery of gone server processes' work, projects, tickets and their events.
 */
export function createSqliteStateRepository(
  path: string,
  options: SqliteStateRepositoryOptions = {},
): StateRepository {
  const sqlite = openSqliteDatabase(path, options);
  return {
    specificationVersion: 'state-v1',
    ...sqliteTokenStatements(sqlite),
    ...sqliteJobStatements(sqlite),
    ...sqliteLogStatements(sqlite),
    ...sqliteSandboxStatements(sqlite),
    ...sqliteRecoveryStatements(sqlite),
    ...sqliteProjectStatements(sqlite),
    ...sqliteTicketStatements(sqlite),
    ...sqliteTicketEventStatements(sqlite),
    ...sqlitePlanStatements(sqlite),
    ...sqliteCronStatements(sqlite),
    ...sqliteTriggerStatements(sqlite),
    ...sqliteUrlStatements(sqlite),
    ...sqliteHostStatements(sqlite),
    async close() {
      if (sqlite.database.isOpen) sqlite.database.close();
    },
  };
}
