import type { SQLInputValue } from 'node:sqlite';
import { jobColumns, toJob } from '../rows/job-row.ts';
import { seqPage } from '../rows/seq-page.ts';
import type { JobMethods } from '../state-method-groups.ts';
import { finishedJobStatuses, type JobFilter, type JobRecord } from '../state-repository.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

/** `status IN (...)` of a finished job, as SQL. */
export const finishedStatusesSql = finishedJobStatuses.map((status) => `'${status}'`).join(', ');

export function sqliteJobStatements(sqlite: SqliteDatabase): JobMethods {
  const { statement, transaction } = sqlite;
  const insertJob = sqlite.prepared(
    `INSERT INTO jobs (id, owner, kind, sandbox, argv, workspace, status, exit_code, signal, reason,
     end_reason, message, sandbox_id, created_at, started_at, finished_at, log_bytes,
     logs_removed_at, logs_removed_reason, host, server, run_options, origin, runtime)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insert = (job: JobRecord) =>
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
      job.origin ?? null,
      job.runtime ?? 'namespace',
    );
  const jobById = sqlite.prepared('SELECT * FROM jobs WHERE owner = ? AND id = ?');
  // A job's updates set a few column sets again and again: each is prepared once.
  return {
    async insertJob(job) {
      insert(job);
    },
    async insertRunJob(job, writes, except = []) {
      if (writes === undefined) {
        insert(job);
        return undefined;
      }
      let writer: string | undefined;
      // BEGIN IMMEDIATE: the check and the insert hold the single writer lock, so a second
      // process's writer of the same workspace sees this one.
      transaction(() => {
        const excluded = except.map(() => '?').join(', ');
        // A writer as writtenWorkspace (run-command.ts) tells it from its stored options: the
        // workspace column is also set for a read-only (base), throw-away or versioned run.
        const row = statement(
          `SELECT id FROM jobs WHERE owner = ? AND workspace = ? AND kind = 'run'
           AND status IN ('queued', 'running')
           AND (run_options IS NULL OR (json_extract(run_options, '$.workspace') = ?
             AND COALESCE(json_extract(run_options, '$.ephemeral'), 0) = 0
             AND json_extract(run_options, '$.version') IS NULL))
           ${except.length === 0 ? '' : `AND id NOT IN (${excluded})`} LIMIT 1`,
        ).get(job.owner, writes, writes, ...except) as Row | undefined;
        writer = row?.id as string | undefined;
        if (writer === undefined) insert(job);
      });
      return writer;
    },
    async updateJob(id, update) {
      sqlite.updateColumns('jobs', jobColumns, update, { sql: 'id = ?', values: [id] });
    },
    async updateUnfinishedJob(id, server, update) {
      const changed = sqlite.updateColumns('jobs', jobColumns, update, {
        sql: "id = ? AND status IN ('queued', 'running') AND server = ?",
        values: [id, server],
      });
      return changed > 0;
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
      const { records, nextCursor } = seqPage(rows, filter.limit, toJob);
      return { jobs: records, nextCursor };
    },
    async deleteJob(owner, id) {
      let deleted = false;
      transaction(() => {
        const result = statement(
          `DELETE FROM jobs WHERE owner = ? AND id = ? AND status IN (${finishedStatusesSql})`,
        ).run(owner, id);
        deleted = Number(result.changes) > 0;
        if (deleted) statement('DELETE FROM job_logs WHERE job_id = ?').run(id);
      });
      if (deleted) await sqlite.reclaimSpace();
      return deleted;
    },
  };
}
