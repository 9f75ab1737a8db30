import { checkClaimLimit } from '../check-claim-limit.ts';
import type { HostRecord, StateRepository, TakenOver } from '../state-repository.ts';
import { type Row, type SqliteDatabase, text } from './sqlite-database.ts';
import { toJob } from './sqlite-job-statements.ts';
import { sqliteNotifications } from './sqlite-notifications.ts';
import { toSandbox } from './sqlite-sandbox-statements.ts';

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
  // The subquery picks the oldest unclaimed jobs; the UPDATE takes them under the write lock.
  const claimQueuedJobs = prepared(
    `UPDATE jobs SET server = $server WHERE id IN (
       SELECT id FROM jobs WHERE status = 'queued' AND host = $host AND server IS NULL
       ORDER BY created_at, seq LIMIT $limit)
     RETURNING *`,
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
           finished_at = ? WHERE host = ? AND status IN ('queued', 'running') RETURNING *`,
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
      const rows = claimQueuedJobs().all({ server, host, limit }) as Row[];
      // RETURNING gives no order (https://sqlite.org/lang_returning.html): oldest first again.
      rows.sort(
        (left, right) =>
          String(left.created_at).localeCompare(String(right.created_at)) ||
          Number(left.seq) - Number(right.seq),
      );
      return rows.map(toJob);
    },
    ...sqliteNotifications(sqlite.database),
  };
}

function toHost(row: Row): HostRecord {
  return {
    id: String(row.id),
    server: String(row.server),
    address: text(row.address),
    runtimes: JSON.parse(String(row.runtimes)) as string[],
    maxJobs: Number(row.max_jobs),
    runningJobs: Number(row.running_jobs),
    warmWorkspaces: JSON.parse(String(row.warm_workspaces)) as string[],
    startedAt: String(row.started_at),
    heartbeatAt: String(row.heartbeat_at),
    goneAt: text(row.gone_at),
    goneReason: text(row.gone_reason),
  };
}
