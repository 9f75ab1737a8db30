import { checkClaimLimit } from '../check-claim-limit.ts';
import { toHost } from '../rows/host-row.ts';
import { compareQueuedJobRows, toJob } from '../rows/job-row.ts';
import { toSandbox } from '../rows/sandbox-row.ts';
import type { HostMethods } from '../state-method-groups.ts';
import { checkNotificationPayload, deliverNotification } from '../state-notifications.ts';
import type { StateChannel } from '../state-repository.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { retryOnDeadlock } from './postgres-retry.ts';

/**
 * The name of a channel in the database: prefixed, so that mags shares a database with other
 * programs' LISTEN/NOTIFY without hearing theirs.
 */
const databaseChannel = (channel: StateChannel) => `mags_${channel}`;

/**
 * Hosts, the job queue and notifications (sqlite-host-statements.ts, the same behaviour), for
 * several server processes at once: the queue takes jobs with `FOR UPDATE SKIP LOCKED`, a host
 * is marked gone under its row's lock, and notifications are LISTEN/NOTIFY, which reach every
 * process connected to the database.
 */
export function postgresHostStatements({ sql }: PostgresDatabase): HostMethods {
  type Listening = { listeners: Set<(payload: string) => void>; started: Promise<unknown> };
  const listeners = new Map<StateChannel, Listening>();
  // postgres.js listens on one dedicated connection of its own (max 1, never idled out) for
  // every channel, and calls each listener from that connection's data handler. When that
  // connection closes, its onclose listens again on every channel with the same functions
  // (node_modules/postgres/src/index.js, `listen`), opening a new connection; what was notified
  // while it was down is lost (PostgreSQL queues only for live sessions), so a notification is a
  // hint to read the state again, never the only copy of anything. Its `unlisten` does nothing
  // after such a reconnect (3.4.9 filters out the listener object it replaced), so this
  // repository listens once per channel, for its lifetime (a handful of channels), and keeps
  // its own subscribers: unsubscribing removes one from the set, reconnect or not.
  // A LISTEN that fails (the server is down) leaves its function registered with postgres.js,
  // which listens with it again once the server is back; the next subscriber's LISTEN registers
  // a second one. So each function delivers only for the entry it was registered for: the one
  // of a failed LISTEN (no longer in the map) stays silent, and nothing is heard twice.
  const startListening = (channel: StateChannel, listening: Listening) =>
    sql.listen(databaseChannel(channel), (payload) => {
      if (listeners.get(channel) !== listening) return;
      // A listener that throws would reach the connection's handler: each is called apart.
      for (const listener of [...listening.listeners]) {
        if (listening.listeners.has(listener)) deliverNotification(channel, listener, payload);
      }
    });
  return {
    async registerHost(host, options = {}) {
      const after = options.liveIfBeatAfter;
      const written =
        await sql`INSERT INTO hosts (id, server, address, runtimes, max_jobs, running_jobs,
        warm_workspaces, started_at, heartbeat_at, gone_at, gone_reason)
        VALUES (${host.id}, ${host.server}, ${host.address}, ${sql.array(host.runtimes)},
        ${host.maxJobs}, ${host.runningJobs}, ${sql.array(host.warmWorkspaces)},
        ${host.startedAt}, ${host.heartbeatAt}, ${host.goneAt}, ${host.goneReason})
        ON CONFLICT (id) DO UPDATE SET server = excluded.server, address = excluded.address,
        runtimes = excluded.runtimes, max_jobs = excluded.max_jobs,
        running_jobs = excluded.running_jobs, warm_workspaces = excluded.warm_workspaces,
        started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
        gone_at = excluded.gone_at, gone_reason = excluded.gone_reason
        ${
          after === undefined
            ? sql``
            : sql`WHERE hosts.gone_at IS NOT NULL OR hosts.server = excluded.server
                OR hosts.heartbeat_at COLLATE "C" <= ${after}`
        }`;
      if (written.count > 0) return undefined;
      const [row] = await sql`SELECT * FROM hosts WHERE id = ${host.id}`;
      return row && toHost(row);
    },
    async heartbeatHost(id, server, beat) {
      // markHostGone holds the row's lock while it decides: a beat waits for it, then finds the
      // host gone (READ COMMITTED re-reads the row after the wait) and writes nothing.
      const result = await sql`UPDATE hosts SET heartbeat_at = ${beat.heartbeatAt},
        running_jobs = ${beat.runningJobs}, warm_workspaces = ${sql.array(beat.warmWorkspaces)}
        WHERE id = ${id} AND server = ${server} AND gone_at IS NULL`;
      return result.count > 0;
    },
    async listHosts() {
      const rows = await sql`SELECT * FROM hosts ORDER BY id`;
      return rows.map(toHost);
    },
    async markHostGone(id, expected, at, reason) {
      // Its updates of a host's jobs and sandboxes may meet another transaction's in another order.
      return retryOnDeadlock(() =>
        sql.begin(async (transaction) => {
          // The host's row stays locked to the end: a beat (or another server marking it gone)
          // waits, then sees what this transaction decided.
          const [row] = await transaction`SELECT server, heartbeat_at, gone_at FROM hosts
          WHERE id = ${id} FOR UPDATE`;
          if (
            !row ||
            row.server !== expected.server ||
            row.heartbeat_at !== expected.heartbeatAt ||
            row.gone_at !== null
          ) {
            return undefined;
          }
          await transaction`UPDATE hosts SET gone_at = ${at}, gone_reason = ${reason}
          WHERE id = ${id}`;
          const jobs = await transaction`UPDATE jobs SET status = 'failed', end_reason = 'failed',
          reason = ${reason}, message = ${reason}, finished_at = ${at},
          run_options = (run_options::jsonb - 'env')::text
          WHERE host = ${id} AND status IN ('queued', 'running') RETURNING *`;
          const sandboxes = await transaction`UPDATE sandboxes SET status = 'stopped',
          reason = ${reason}, runtime_id = NULL
          WHERE host = ${id} AND status IN ('running', 'sleeping') RETURNING *`;
          return { jobs: jobs.map(toJob), sandboxes: sandboxes.map(toSandbox) };
        }),
      );
    },
    async removeHost(id, server) {
      await sql`DELETE FROM hosts WHERE id = ${id} AND server = ${server}`;
    },
    async claimQueuedJobs(host, server, limit) {
      checkClaimLimit(limit);
      if (limit === 0) return [];
      // One statement: the oldest unclaimed jobs that no other transaction has locked are locked
      // and taken; rows another claimer holds are skipped, never waited for. A row another
      // claimer took meanwhile is re-checked under its lock and no longer matches `server IS
      // NULL` (https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE).
      // A placed run's environment (it may hold secrets) leaves the state in the same statement
      // that takes it: stored without `env`, returned with it (`picked` read the row before).
      const rows = await sql`WITH picked AS (
          SELECT id, run_options AS placed_options FROM jobs
          WHERE status = 'queued' AND host = ${host} AND server IS NULL
          ORDER BY created_at COLLATE "C", seq LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        UPDATE jobs SET server = ${server}, run_options = (jobs.run_options::jsonb - 'env')::text
        FROM picked WHERE jobs.id = picked.id
        RETURNING jobs.*, picked.placed_options`;
      // RETURNING has no order: oldest first again.
      return [...rows]
        .sort(compareQueuedJobRows)
        .map((row) => toJob({ ...row, run_options: row.placed_options }));
    },
    async notify(channel, payload) {
      checkNotificationPayload(channel, payload);
      // pg_notify on a pooled connection, outside a transaction: sent at once. Two notifies
      // awaited one after the other arrive in that order (one transaction each, delivered in
      // commit order: https://www.postgresql.org/docs/current/sql-notify.html).
      await sql`SELECT pg_notify(${databaseChannel(channel)}, ${payload})`;
    },
    async listen(channel, listener) {
      let listening = listeners.get(channel);
      if (!listening) {
        const entry: Listening = { listeners: new Set(), started: Promise.resolve() };
        entry.started = startListening(channel, entry);
        listening = entry;
        listeners.set(channel, listening);
      }
      // A Set holds a function once: a wrapper makes each call its own subscription.
      const subscription = (payload: string) => listener(payload);
      listening.listeners.add(subscription);
      try {
        await listening.started;
      } catch (error) {
        listening.listeners.delete(subscription);
        if (listeners.get(channel) === listening) listeners.delete(channel);
        throw error;
      }
      const { listeners: subscriptions } = listening;
      return async () => {
        subscriptions.delete(subscription);
      };
    },
  };
}
