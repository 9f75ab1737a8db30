import { checkClaimLimit } from '../check-claim-limit.ts';
import { toHost } from '../rows/host-row.ts';
import { toJob } from '../rows/job-row.ts';
import { toSandbox } from '../rows/sandbox-row.ts';
import type { HostMethods } from '../state-method-groups.ts';
import type { TakenOver } from '../state-repository.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';
import { sqliteNotifications } from './sqlite-notifications.ts';

/**
 * Hosts, the job queue and notifications. SQLite has one writer at a time, so a single UPDATE
 * (or one `BEGIN IMMEDIATE` transaction) is what PostgreSQL's row locks are: two processes on one
 * file never take the same queued job, and a host is marked gone once.
 */
export function sqliteHostStatements(sqlite: SqliteDatabase): HostMethods {
  const { prepared, statement, transaction } = sqlite;
  const registerHost = prepared(
    `INSERT INTO hosts (id, server, address, runtimes, max_jobs, running_jobs, warm_workspaces,
     started_at, heartbeat_at, gone_at, gone_reason) VALUES ($id, $server, $address, $runtimes,
     $maxJobs, $runningJobs, $warm, $startedAt, $heartbeatAt, $goneAt, $goneReason)
     ON CONFLICT (id) DO UPDATE SET server = excluded.server, address = excluded.address,
     runtimes = excluded.runtimes, max_jobs = excluded.max_jobs,
     running_jobs = excluded.running_jobs, warm_workspaces = excluded.warm_workspaces,
     started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
     gone_at = excluded.gone_at, gone_reason = excluded.gone_reason
     WHERE $after IS NULL OR hosts.gone_at IS NOT NULL OR hosts.server = excluded.server
       OR hosts.heartbeat_at <= $after`,
  );
  const heartbeatHost = prepared(
    `UPDATE hosts SET heartbeat_at = ?, running_jobs = ?, warm_workspaces = ?
     WHERE id = ? AND server = ? AND gone_at IS NULL`,
  );
  // The SELECT picks the oldest unclaimed jobs (with a placed run's environment, which the host
  // needs); the UPDATE, in the same write transaction, takes them and drops that environment
  // from the state (it may hold secrets).
  const pickQueuedJobs = prepared(
    `SELECT * FROM jobs WHERE status = 'queued' AND host = $host AND server IS NULL
     ORDER BY created_at, seq LIMIT $limit`,
  );
  const takeQueuedJob = prepared(
    `UPDATE jobs SET server = $server, run_options = json_remove(run_options, '$.env')
     WHERE id = $id`,
  );
  return {
    async registerHost(host, options = {}) {
      const written = registerHost().run({
        id: host.id,
        server: host.server,
        address: host.address,
        runtimes: JSON.stringify(host.runtimes),
        maxJobs: host.maxJobs,
        runningJobs: host.runningJobs,
        warm: JSON.stringify(host.warmWorkspaces),
        startedAt: host.startedAt,
        heartbeatAt: host.heartbeatAt,
        goneAt: host.goneAt,
        goneReason: host.goneReason,
        after: options.liveIfBeatAfter ?? null,
      });
      if (Number(written.changes) > 0) return undefined;
      const row = statement('SELECT * FROM hosts WHERE id = ?').get(host.id) as Row | undefined;
      return row && toHost(row);
    },
    async heartbeatHost(id, server, beat) {
      const result = heartbeatHost().run(
        beat.heartbeatAt,
        beat.runningJobs,
        JSON.stringify(beat.warmWorkspaces),
        id,
        server,
      );
      return Number(result.changes) > 0;
    },
    async listHosts() {
      return (statement('SELECT * FROM hosts ORDER BY id').all() as Row[]).map(toHost);
    },
    async markHostGone(id, expected, at, reason) {
      let taken: TakenOver | undefined;
      transaction(() => {
        // The compare-and-set: still the server read, and no beat since it was read.
        const marked = statement(
          `UPDATE hosts SET gone_at = ?, gone_reason = ?
           WHERE id = ? AND server = ? AND heartbeat_at = ? AND gone_at IS NULL`,
        ).run(at, reason, id, expected.server, expected.heartbeatAt);
        if (Number(marked.changes) === 0) return;
        const jobs = statement(
          `UPDATE jobs SET status = 'failed', end_reason = 'failed', reason = ?, message = ?,
           finished_at = ?, run_options = json_remove(run_options, '$.env')
           WHERE host = ? AND status IN ('queued', 'running') RETURNING *`,
        ).all(reason, reason, at, id) as Row[];
        const sandboxes = statement(
          `UPDATE sandboxes SET status = 'stopped', reason = ?, runtime_id = NULL
           WHERE host = ? AND status IN ('running', 'sleeping') RETURNING *`,
        ).all(reason, id) as Row[];
        taken = { jobs: jobs.map(toJob), sandboxes: sandboxes.map(toSandbox) };
      });
      return taken;
    },
    async removeHost(id, server) {
      statement('DELETE FROM hosts WHERE id = ? AND server = ?').run(id, server);
    },
    async claimQueuedJobs(host, server, limit) {
      checkClaimLimit(limit);
      if (limit === 0) return [];
      let rows: Row[] = [];
      transaction(() => {
        rows = pickQueuedJobs().all({ host, limit }) as Row[];
        for (const row of rows) takeQueuedJob().run({ server, id: String(row.id) });
      });
      return rows.map((row) => toJob({ ...row, server }));
    },
    ...sqliteNotifications(sqlite.database),
  };
}
