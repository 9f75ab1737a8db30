import { toJob } from '../rows/job-row.ts';
import { toSandbox } from '../rows/sandbox-row.ts';
import type { RecoveryMethods } from '../state-method-groups.ts';
import type { TakenOver } from '../state-repository.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

/** What a server starting up asks of state: the work of gone server processes. */
export function sqliteRecoveryStatements({
  statement,
  transaction,
}: SqliteDatabase): RecoveryMethods {
  return {
    async recoverInterrupted(reason, at) {
      let jobs = 0;
      let sandboxes = 0;
      transaction(() => {
        jobs = Number(
          statement(
            `UPDATE jobs SET status = 'failed', end_reason = 'failed', reason = ?, message = ?,
             finished_at = ? WHERE status IN ('queued', 'running') AND host IS NULL`,
          ).run(reason, reason, at).changes,
        );
        sandboxes = Number(
          statement(
            `UPDATE sandboxes SET status = 'stopped', reason = ?, runtime_id = NULL
             WHERE status IN ('running', 'sleeping') AND host IS NULL`,
          ).run(reason).changes,
        );
      });
      return { jobs, sandboxes };
    },
    async unfinishedServers(host) {
      const rows = statement(
        `SELECT server FROM jobs WHERE host = $host AND server IS NOT NULL
           AND status IN ('queued', 'running')
         UNION SELECT server FROM sandboxes WHERE host = $host AND server IS NOT NULL
           AND status IN ('running', 'sleeping')`,
      ).all({ host }) as Row[];
      return rows.map((row) => String(row.server));
    },
    async takeOverServer({ server, host, successor, at }) {
      let taken: TakenOver | undefined;
      transaction(() => {
        // A successor that was itself taken over is gone: the work stays with `server`, for a
        // live process to take (moved to the successor, nobody could ever take it again).
        if (statement('SELECT 1 FROM server_takeovers WHERE server = ?').get(successor)) return;
        // The primary key makes this once only: a second process taking over the same server
        // inserts nothing and gets nothing.
        const inserted = statement(
          `INSERT INTO server_takeovers (server, host, successor, at) VALUES (?, ?, ?, ?)
           ON CONFLICT (server) DO NOTHING`,
        ).run(server, host, successor, at);
        if (Number(inserted.changes) === 0) return;
        // What the gone server had taken over itself is the successor's now (no chains).
        statement('UPDATE server_takeovers SET successor = ? WHERE successor = ?').run(
          successor,
          server,
        );
        const jobs = statement(
          `UPDATE jobs SET server = ? WHERE host = ? AND server = ?
           AND status IN ('queued', 'running') RETURNING *`,
        ).all(successor, host, server) as Row[];
        const sandboxes = statement(
          `UPDATE sandboxes SET server = ? WHERE host = ? AND server = ?
           AND status IN ('running', 'sleeping') RETURNING *`,
        ).all(successor, host, server) as Row[];
        taken = { jobs: jobs.map(toJob), sandboxes: sandboxes.map(toSandbox) };
      });
      return taken;
    },
    async serverSuccessor(server) {
      const row = statement('SELECT successor FROM server_takeovers WHERE server = ?').get(
        server,
      ) as Row | undefined;
      return row ? String(row.successor) : undefined;
    },
  };
}
