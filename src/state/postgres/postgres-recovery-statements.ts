import { toJob } from '../rows/job-row.ts';
import { toSandbox } from '../rows/sandbox-row.ts';
import type { RecoveryMethods } from '../state-method-groups.ts';
import { advisoryLockKeys } from './postgres-advisory-lock.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { retryOnDeadlock } from './postgres-retry.ts';

/**
 * What a server starting up asks of state: the work of gone server processes
 * (sqlite-recovery-statements.ts, the same behaviour). Several servers share this database, so a
 * takeover must hold against another process doing one at the same moment: see takeOverServer.
 */
export function postgresRecoveryStatements({ sql }: PostgresDatabase): RecoveryMethods {
  return {
    async recoverInterrupted(reason, at) {
      return sql.begin(async (transaction) => {
        const jobs = await transaction`UPDATE jobs SET status = 'failed', end_reason = 'failed',
          reason = ${reason}, message = ${reason}, finished_at = ${at}
          WHERE status IN ('queued', 'running') AND host IS NULL`;
        const sandboxes = await transaction`UPDATE sandboxes SET status = 'stopped',
          reason = ${reason}, runtime_id = NULL
          WHERE status IN ('running', 'sleeping') AND host IS NULL`;
        return { jobs: jobs.count, sandboxes: sandboxes.count };
      });
    },
    async unfinishedServers(host) {
      const rows = await sql`SELECT server FROM jobs WHERE host = ${host} AND server IS NOT NULL
          AND status IN ('queued', 'running')
        UNION SELECT server FROM sandboxes WHERE host = ${host} AND server IS NOT NULL
          AND status IN ('running', 'sleeping')`;
      return rows.map((row) => String(row.server));
    },
    async takeOverServer({ server, host, successor, at }) {
      // Its updates of a server's jobs and sandboxes may meet another transaction's in another order.
      return retryOnDeadlock(() =>
        sql.begin(async (transaction) => {
          // Takeovers queue on one lock, so each sees the ones before it committed: without it, A
          // taking over B while C takes over A would each miss the other's rows (READ COMMITTED
          // reads what was committed when a statement began) and leave work with a gone server.
          // They are rare (a server gone), so one at a time costs nothing.
          await transaction`SELECT pg_advisory_xact_lock(${advisoryLockKeys.takeover})`;
          // A successor that was itself taken over is gone: the work stays with `server`, for a
          // live process to take (moved to the successor, nobody could ever take it again). The
          // lock above makes this see a takeover of the successor that committed just before.
          const [successorGone] =
            await transaction`SELECT 1 FROM server_takeovers WHERE server = ${successor}`;
          if (successorGone) return undefined;
          // The primary key makes this once only: a second process taking over the same server
          // inserts nothing and gets nothing.
          const inserted =
            await transaction`INSERT INTO server_takeovers (server, host, successor, at)
          VALUES (${server}, ${host}, ${successor}, ${at}) ON CONFLICT (server) DO NOTHING`;
          if (inserted.count === 0) return undefined;
          // What the gone server had taken over itself is the successor's now (no chains).
          await transaction`UPDATE server_takeovers SET successor = ${successor}
          WHERE successor = ${server}`;
          const jobs = await transaction`UPDATE jobs SET server = ${successor}
          WHERE host = ${host} AND server = ${server} AND status IN ('queued', 'running')
          RETURNING *`;
          const sandboxes = await transaction`UPDATE sandboxes SET server = ${successor}
          WHERE host = ${host} AND server = ${server} AND status IN ('running', 'sleeping')
          RETURNING *`;
          return { jobs: jobs.map(toJob), sandboxes: sandboxes.map(toSandbox) };
        }),
      );
    },
    async serverSuccessor(server) {
      const [row] = await sql`SELECT successor FROM server_takeovers WHERE server = ${server}`;
      return row ? String(row.successor) : undefined;
    },
  };
}
