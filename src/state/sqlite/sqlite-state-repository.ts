import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { DependencyMissingError } from '../../errors/mags-error.ts';
import {
  finishedJobStatuses,
  type JobFilter,
  type JobRecord,
  type JobUpdate,
  type LogChunk,
  type SandboxRecord,
  type StateRepository,
  type StoredLog,
  type TakenOver,
  type TokenRecord,
  type WorkspaceRecord,
} from '../state-repository.ts';
import { migrateSqlite } from './sqlite-migrations.ts';
import { createSpaceReclaimer } from './sqlite-space-reclaimer.ts';

type Row = Record<string, SQLInputValue>;

export interface SqliteStateRepositoryOptions {
  /**
   * Pages in the write-ahead log that trigger a checkpoint (SQLite's default: 1000). A process
   * that exits without closing the database (the CLI after a run: a close checkpoints, with
   * fsyncs) leaves the log to the next opener, which reads it all once; a smaller bound keeps
   * that read short.
   */
  walAutocheckpointPages?: number;
}

/**
 * The embedded default: one SQLite file (Node's built-in `node:sqlite`, no native dependency).
 * WAL mode lets the CLI read while a server writes; `synchronous = NORMAL` keeps every committed
 * transaction through a process crash (SIGKILL), which is the failure the server must survive.
 */
export function createSqliteStateRepository(
  path: string,
  options: SqliteStateRepositoryOptions = {},
): StateRepository {
  let database: DatabaseSync;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    database = new DatabaseSync(path);
    // A checkpoint cuts the write-ahead log back to `journal_size_limit`; without a limit it
    // keeps the largest size it ever reached (a purge or a migration's VACUUM writes a lot).
    database.exec(
      `PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
       PRAGMA journal_size_limit = ${8 * 1024 * 1024};
       PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;
       ${options.walAutocheckpointPages === undefined ? '' : `PRAGMA wal_autocheckpoint = ${options.walAutocheckpointPages};`}`,
    );
    migrateSqlite(database);
  } catch (error) {
    throw new DependencyMissingError(`Cannot open the state database ${path}: ${String(error)}`, {
      cause: error,
      code: 'state_unavailable',
      hint: 'Check that the directory is writable and the disk is not full (MAGS_HOME sets where it lives).',
    });
  }
  const statement = (sql: string) => database.prepare(sql);
  // Prepared on first use, then kept: a short-lived process (a CLI run) prepares only what it
  // uses.
  const prepared = (sql: string) => {
    let kept: StatementSync | undefined;
    return () => {
      kept ??= database.prepare(sql);
      return kept;
    };
  };
  const insertToken = prepared(
    'INSERT INTO tokens (id, owner, name, hash, created_at, admin) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const tokenByHash = prepared('SELECT * FROM tokens WHERE hash = ?');
  const insertJob = prepared(
    `INSERT INTO jobs (id, owner, kind, sandbox, argv, workspace, status, exit_code, signal, reason,
     end_reason, message, sandbox_id, created_at, started_at, finished_at, log_bytes,
     logs_removed_at, logs_removed_reason, host, server, run_options)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const jobById = prepared('SELECT * FROM jobs WHERE owner = ? AND id = ?');
  const insertLog = prepared(
    'INSERT INTO job_logs (job_id, offset, stream, data) VALUES (?, ?, ?, ?)',
  );
  const setLogBytes = prepared('UPDATE jobs SET log_bytes = ? WHERE id = ?');
  const readLog = prepared(
    // The chunk that contains `fromOffset` starts before it, hence the first SELECT.
    `SELECT * FROM (SELECT offset, stream, data FROM job_logs WHERE job_id = $job AND offset <= $from
       ORDER BY offset DESC LIMIT 1)
     UNION ALL
     SELECT * FROM (SELECT offset, stream, data FROM job_logs WHERE job_id = $job AND offset > $from
       ORDER BY offset LIMIT $limit)`,
  );
  const upsertSandbox = prepared(
    `INSERT INTO sandboxes (owner, name, runtime_id, workspace, status, options, reason, created_at,
     last_active_at, host, server) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (owner, name) DO UPDATE SET runtime_id = excluded.runtime_id,
     workspace = excluded.workspace, status = excluded.status, options = excluded.options,
     reason = excluded.reason, last_active_at = excluded.last_active_at, host = excluded.host,
     server = excluded.server`,
  );
  const touchWorkspace = prepared(
    `INSERT INTO workspaces (owner, name, created_at, last_used_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (owner, name) DO UPDATE SET last_used_at = excluded.last_used_at`,
  );

  const finished = finishedJobStatuses.map((status) => `'${status}'`).join(', ');
  // A job's updates set a few column sets again and again: each is prepared once.
  const jobUpdates = new Map<string, StatementSync>();
  let reclaimer: (() => Promise<void>) | undefined;
  const reclaimSpace = () => {
    reclaimer ??= createSpaceReclaimer(database);
    return reclaimer();
  };

  const transaction = (work: () => void) => {
    database.exec('BEGIN IMMEDIATE');
    try {
      work();
      database.exec('COMMIT');
    } catch (error) {
      database.exec('ROLLBACK');
      throw error;
    }
  };

  return {
    specificationVersion: 'state-v1',

    async insertToken(token) {
      insertToken().run(
        token.id,
        token.owner,
        token.name,
        token.hash,
        token.createdAt,
        token.admin ? 1 : 0,
      );
    },
    async findTokenByHash(hash) {
      const row = tokenByHash().get(hash) as Row | undefined;
      return row && toToken(row);
    },
    async listTokens(owner) {
      const rows =
        owner === undefined
          ? statement('SELECT * FROM tokens ORDER BY created_at').all()
          : statement('SELECT * FROM tokens WHERE owner = ? ORDER BY created_at').all(owner);
      return (rows as Row[]).map(toToken);
    },
    async revokeToken(id, revokedAt) {
      const result = statement(
        'UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
      ).run(revokedAt, id);
      return Number(result.changes) > 0;
    },

    async insertJob(job) {
      insertJob().run(
        job.id,
        job.owner,
        job.kind,
        job.sandbox,
        JSON.stringify(job.argv),
        job.workspace,
        job.status,
        job.exitCode,
        job.signal,
        job.reason,
        job.endReason,
        job.message,
        job.sandboxId,
        job.createdAt,
        job.startedAt,
        job.finishedAt,
        job.logBytes,
        job.logsRemovedAt,
        job.logsRemovedReason,
        job.host ?? null,
        job.server ?? null,
        job.runOptions ? JSON.stringify(job.runOptions) : null,
      );
    },
    async updateJob(id, update) {
      const columns = Object.entries(update)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => [jobColumns[key as keyof JobUpdate], value] as const);
      if (columns.length === 0) return;
      const sql = `UPDATE jobs SET ${columns.map(([column]) => `${column} = ?`).join(', ')} WHERE id = ?`;
      let prepared = jobUpdates.get(sql);
      if (!prepared) {
        prepared = statement(sql);
        jobUpdates.set(sql, prepared);
      }
      prepared.run(...columns.map(([, value]) => value as SQLInputValue), id);
    },
    async getJob(owner, id) {
      const row = jobById().get(owner, id) as Row | undefined;
      return row && toJob(row);
    },
    async listJobs(filter: JobFilter) {
      const where = ['owner = $owner'];
      const parameters: Record<string, SQLInputValue> = {
        owner: filter.owner,
        limit: filter.limit + 1,
      };
      for (const key of ['status', 'workspace', 'sandbox'] as const) {
        if (filter[key] === undefined) continue;
        where.push(`${key} = $${key}`);
        parameters[key] = filter[key];
      }
      if (filter.cursor !== undefined) {
        where.push('seq < $cursor');
        parameters.cursor = Number(filter.cursor);
      }
      const rows = statement(
        `SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $limit`,
      ).all(parameters) as Row[];
      const page = rows.slice(0, filter.limit);
      const last = page.at(-1);
      return {
        jobs: page.map(toJob),
        nextCursor: rows.length > filter.limit && last ? String(last.seq) : null,
      };
    },
    async appendLog(jobId, chunks) {
      const last = chunks.at(-1);
      if (!last) return;
      transaction(() => {
        for (const chunk of chunks) insertLog().run(jobId, chunk.offset, chunk.stream, chunk.data);
        setLogBytes().run(last.offset + last.data.length, jobId);
      });
    },
    async readLog(jobId, fromOffset, maxBytes) {
      // Stored chunks are at most a flush's worth each, so a row count bounds the bytes.
      const rows = readLog().all({
        job: jobId,
        from: fromOffset,
        limit: Math.max(1, Math.ceil(maxBytes / 16_384)),
      }) as Row[];
      const chunks: LogChunk[] = [];
      let bytes = 0;
      for (const row of rows) {
        const data = row.data as Uint8Array;
        const chunk: LogChunk = {
          offset: Number(row.offset),
          stream: row.stream as LogChunk['stream'],
          data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        };
        if (chunk.offset + chunk.data.length <= fromOffset) continue;
        chunks.push(chunk);
        bytes += chunk.data.length;
        if (bytes >= maxBytes) break;
      }
      return chunks;
    },
    async storedLogBytes(owner) {
      const where = owner === undefined ? '' : 'AND owner = ?';
      const row = statement(
        `SELECT COALESCE(SUM(log_bytes), 0) AS bytes FROM jobs
         WHERE logs_removed_at IS NULL ${where}`,
      ).get(...(owner === undefined ? [] : [owner])) as Row;
      return Number(row.bytes);
    },
    async storedLogOwners() {
      const rows = statement(
        'SELECT DISTINCT owner FROM jobs WHERE logs_removed_at IS NULL AND log_bytes > 0',
      ).all() as Row[];
      return rows.map((row) => String(row.owner));
    },
    async listStoredLogs(filter) {
      const where = [`status IN (${finished})`, 'logs_removed_at IS NULL', 'log_bytes > 0'];
      const parameters: Record<string, SQLInputValue> = { limit: filter.limit };
      if (filter.owner !== undefined) {
        where.push('owner = $owner');
        parameters.owner = filter.owner;
      }
      if (filter.finishedBefore !== undefined) {
        where.push('finished_at < $before');
        parameters.before = filter.finishedBefore;
      }
      const rows = statement(
        `SELECT id, owner, log_bytes, finished_at FROM jobs WHERE ${where.join(' AND ')}
         ORDER BY finished_at, seq LIMIT $limit`,
      ).all(parameters) as Row[];
      return rows.map(toStoredLog);
    },
    async removeLogs(jobIds, at, reason) {
      const removed: StoredLog[] = [];
      transaction(() => {
        const mark = statement(
          `UPDATE jobs SET logs_removed_at = ?, logs_removed_reason = ?
           WHERE id = ? AND status IN (${finished}) AND logs_removed_at IS NULL
           RETURNING id, owner, log_bytes, finished_at`,
        );
        const remove = statement('DELETE FROM job_logs WHERE job_id = ?');
        for (const id of jobIds) {
          const row = mark.get(at, reason, id) as Row | undefined;
          if (!row) continue;
          remove.run(id);
          removed.push(toStoredLog(row));
        }
      });
      if (removed.length > 0) await reclaimSpace();
      return removed;
    },
    async deleteJob(owner, id) {
      let deleted = false;
      transaction(() => {
        const result = statement(
          `DELETE FROM jobs WHERE owner = ? AND id = ? AND status IN (${finished})`,
        ).run(owner, id);
        deleted = Number(result.changes) > 0;
        if (deleted) statement('DELETE FROM job_logs WHERE job_id = ?').run(id);
      });
      if (deleted) await reclaimSpace();
      return deleted;
    },

    async upsertSandbox(sandbox) {
      upsertSandbox().run(
        sandbox.owner,
        sandbox.name,
        sandbox.runtimeId,
        sandbox.workspace,
        sandbox.status,
        JSON.stringify(sandbox.options),
        sandbox.reason,
        sandbox.createdAt,
        sandbox.lastActiveAt,
        sandbox.host ?? null,
        sandbox.server ?? null,
      );
    },
    async getSandbox(owner, name) {
      const row = statement('SELECT * FROM sandboxes WHERE owner = ? AND name = ?').get(
        owner,
        name,
      ) as Row | undefined;
      return row && toSandbox(row);
    },
    async listSandboxes(owner) {
      const rows = statement('SELECT * FROM sandboxes WHERE owner = ? ORDER BY name').all(owner);
      return (rows as Row[]).map(toSandbox);
    },
    async deleteSandbox(owner, name) {
      statement('DELETE FROM sandboxes WHERE owner = ? AND name = ?').run(owner, name);
    },

    async touchWorkspace(owner, name, at) {
      touchWorkspace().run(owner, name, at, at);
    },
    async listWorkspaces(owner) {
      const rows = statement('SELECT * FROM workspaces WHERE owner = ? ORDER BY name').all(owner);
      return (rows as Row[]).map(
        (row): WorkspaceRecord => ({
          owner: String(row.owner),
          name: String(row.name),
          createdAt: String(row.created_at),
          lastUsedAt: String(row.last_used_at),
        }),
      );
    },
    async deleteWorkspace(owner, name) {
      statement('DELETE FROM workspaces WHERE owner = ? AND name = ?').run(owner, name);
    },

    async logStreamBytes(jobId) {
      const rows = statement(
        'SELECT stream, SUM(length(data)) AS bytes FROM job_logs WHERE job_id = ? GROUP BY stream',
      ).all(jobId) as Row[];
      const bytes = { stdout: 0, stderr: 0 };
      for (const row of rows) bytes[row.stream as 'stdout' | 'stderr'] = Number(row.bytes);
      return bytes;
    },

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
    async close() {
      if (database.isOpen) database.close();
    },
  };
}

const jobColumns: Record<keyof JobUpdate, string> = {
  status: 'status',
  exitCode: 'exit_code',
  signal: 'signal',
  reason: 'reason',
  endReason: 'end_reason',
  message: 'message',
  sandboxId: 'sandbox_id',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  logBytes: 'log_bytes',
};

function toStoredLog(row: Row): StoredLog {
  return {
    id: String(row.id),
    owner: String(row.owner),
    bytes: Number(row.log_bytes),
    finishedAt: String(row.finished_at),
  };
}

const text = (value: SQLInputValue | undefined) =>
  value === null || value === undefined ? null : String(value);

function toToken(row: Row): TokenRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    name: String(row.name),
    hash: String(row.hash),
    createdAt: String(row.created_at),
    revokedAt: text(row.revoked_at),
    admin: Number(row.admin) === 1,
  };
}

function toJob(row: Row): JobRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    kind: row.kind as JobRecord['kind'],
    sandbox: text(row.sandbox),
    argv: JSON.parse(String(row.argv)) as string[],
    workspace: text(row.workspace),
    status: row.status as JobRecord['status'],
    exitCode: row.exit_code === null ? null : Number(row.exit_code),
    signal: text(row.signal),
    reason: text(row.reason),
    endReason: text(row.end_reason) as JobRecord['endReason'],
    message: text(row.message),
    sandboxId: text(row.sandbox_id),
    createdAt: String(row.created_at),
    startedAt: text(row.started_at),
    finishedAt: text(row.finished_at),
    logBytes: Number(row.log_bytes),
    logsRemovedAt: text(row.logs_removed_at),
    logsRemovedReason: text(row.logs_removed_reason),
    host: text(row.host),
    server: text(row.server),
    runOptions:
      row.run_options === null || row.run_options === undefined
        ? null
        : (JSON.parse(String(row.run_options)) as Record<string, unknown>),
  };
}

function toSandbox(row: Row): SandboxRecord {
  return {
    owner: String(row.owner),
    name: String(row.name),
    runtimeId: text(row.runtime_id),
    workspace: text(row.workspace),
    status: row.status as SandboxRecord['status'],
    options: JSON.parse(String(row.options)) as Record<string, unknown>,
    reason: text(row.reason),
    createdAt: String(row.created_at),
    lastActiveAt: String(row.last_active_at),
    host: text(row.host),
    server: text(row.server),
  };
}
