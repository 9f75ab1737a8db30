import { describeStateLocation } from '../open-state-repository.ts';
import type { StateRepository } from '../state-repository.ts';
import { postgresCronStatements } from './postgres-cron-statements.ts';
import { openPostgresDatabase, type PostgresStateRepositoryOptions } from './postgres-database.ts';
import { postgresHostStatements } from './postgres-host-statements.ts';
import { postgresJobStatements } from './postgres-job-statements.ts';
import { postgresLogStatements } from './postgres-log-statements.ts';
import { postgresPlanStatements } from './postgres-plan-statements.ts';
import { postgresProjectStatements } from './postgres-project-statements.ts';
import { postgresRecoveryStatements } from './postgres-recovery-statements.ts';
import { postgresSandboxStatements } from './postgres-sandbox-statements.ts';
import { postgresTicketEventStatements } from './postgres-ticket-event-statements.ts';
import { postgresTicketStatements } from './postgres-ticket-statements.ts';
import { postgresTokenStatements } from './postgres-token-statements.ts';
import { postgresTriggerStatements } from './postgres-trigger-statements.ts';
import { reportUnreachable } from './postgres-unreachable-error.ts';
import { postgresUrlStatements } from './postgres-url-statements.ts';

export type { PostgresStateRepositoryOptions } from './postgres-database.ts';

/**
 * PostgreSQL, for several servers and hosts sharing one state (GUIDE §6): the same contract as
 * SQLite (`state-repository-contract.ts`), with row locks (`FOR UPDATE`, `SKIP LOCKED` for the
 * job queue) where SQLite's single writer made a transaction enough, and LISTEN/NOTIFY so that a
 * server follows what another one does. The statements are grouped as SQLite's are.
 */
export async function createPostgresStateRepository(
  url: string,
  options: PostgresStateRepositoryOptions = {},
): Promise<StateRepository> {
  const database = await openPostgresDatabase(url, options);
  const repository: StateRepository = {
    specificationVersion: 'state-v1',
    ...postgresTokenStatements(database),
    ...postgresJobStatements(database),
    ...postgresLogStatements(database),
    ...postgresSandboxStatements(database),
    ...postgresRecoveryStatements(database),
    ...postgresProjectStatements(database),
    ...postgresUrlStatements(database),
    ...postgresTicketStatements(database),
    ...postgresTicketEventStatements(database),
    ...postgresPlanStatements(database),
    ...postgresCronStatements(database),
    ...postgresTriggerStatements(database),
    ...postgresHostStatements(database),
    async close() {
      await database.sql.end({ timeout: 5 });
    },
  };
  return reportUnreachable(repository, describeStateLocation({ kind: 'postgres', url }));
}
