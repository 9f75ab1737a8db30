import type { StateRepository } from '../state-repository.ts';
import type { SqliteDatabase } from './sqlite-database.ts';

type HostMethods = Pick<
  StateRepository,
  | 'registerHost'
  | 'heartbeatHost'
  | 'listHosts'
  | 'markHostGone'
  | 'removeHost'
  | 'claimQueuedJobs'
  | 'notify'
  | 'listen'
>;

// PLACEHOLDER (issue 17, item "hosts state"): replaced by the real statements.
export function sqliteHostStatements(_database: SqliteDatabase): HostMethods {
  const missing = async (): Promise<never> => {
    throw new Error('not built yet');
  };
  return {
    registerHost: missing,
    heartbeatHost: missing,
    listHosts: missing,
    markHostGone: missing,
    removeHost: missing,
    claimQueuedJobs: missing,
    notify: missing,
    listen: missing,
  };
}
