import type postgres from 'postgres';
import { jobColumns, toJob } from '../rows/job-row.ts';
import { seqPage } from '../rows/seq-page.ts';
import type { JobMethods } from '../state-method-groups.ts';
import { finishedJobStatuses, type JobFilter, type JobRecord } from '../state-repository.ts';
import { lockKey, lockNamespaces } from './postgres-advisory-lock.ts';
import { columnValues, withoutNul } from './postgres-column-values.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { safeInteger } from './postgres-row-values.ts';

/** Jobs (sqlite-job-statements.ts, the same behaviour). */
export function postgresJobStatements({ sql }: PostgresDatabase): JobMethods {
  return {
    async insertJob(job) {
      await insertJob(sql, job);
    },
    async insertRunJob(job, writes, except = []) {
      if (writes === undefined) {
        await insertJob(sql, job);
        return undefined;
      }
      return sql.begin(async (transaction) => {
        // Writers of one workspace take turns here: of two at once, the second sees the first.
        await lockKey(
          transaction,
          lockNamespaces.workspaceWriter,
          JSON.stringify([job.owner, writes]),
        );
        // A writer as writtenWorkspace (run-command.ts) tells it from its stored options: the
        // workspace column is also set for a read-only (base), throw-away or versioned run.
        const [writer] = await transaction`SELECT id FROM jobs WHERE owner = ${job.owner}
          AND workspace = ${writes} AND kind = 'run' AND status IN ('queued', 'running')
          AND (run_options IS NULL OR (run_options::jsonb ->> 'workspace' = ${writes}
            AND COALESCE(run_options::jsonb ->> 'ephemeral', 'false') <> 'true'
            AND run_options::jsonb -> 'version' IS NULL))
          ${except.length === 0 ? sql`` : sql`AND id NOT IN ${sql(except)}`}
          LIMIT 1`;
        if (writer) return writer.id as string;
        await insertJob(transaction, job);
        return undefined;
      });
    },
    async updateJob(id, update) {
      const values = columnValues('jobs', jobColumns, update);
      if (Object.keys(values).length === 0) return;
      await sql`UPDATE jobs SET ${sql(values)} WHERE id = ${id}`;
    },
    async updateUnfinishedJob(id, server, update) {
      const values = columnValues('jobs', jobColumns, update);
      if (Object.keys(values).length === 0) return false;
      const result = await sql`UPDATE jobs SET ${sql(values)} WHERE id = ${id}
        AND status IN ('queued', 'running') AND server = ${server}`;
      return result.count > 0;
    },
    async getJob(owner, id) {
      const [row] = await sql`SELECT * FROM jobs WHERE owner = ${owner} AND id = ${id}`;
      return row && toJob(row);
    },
    async listJobs(filter: JobFilter) {
      const rows = await sql`SELECT * FROM jobs WHERE owner = ${filter.owner}
        ${filter.status === undefined ? sql`` : sql`AND status = ${filter.status}`}
        ${filter.workspace === undefined ? sql`` : sql`AND workspace = ${filter.workspace}`}
        ${filter.sandbox === undefined ? sql`` : sql`AND sandbox = ${filter.sandbox}`}
        ${filter.cursor === undefined ? sql`` : sql`AND seq < ${safeInteger(Number(filter.cursor))}`}
        ORDER BY seq DESC LIMIT ${filter.limit + 1}`;
      const { records, nextCursor } = seqPage(rows, filter.limit, toJob);
      return { jobs: records, nextCursor };
    },
    async deleteJob(owner, id) {
      return sql.begin(async (transaction) => {
        const deleted = await transaction`DELETE FROM jobs WHERE owner = ${owner} AND id = ${id}
          AND status IN ${sql(finishedJobStatuses)} RETURNING id`;
        if (deleted.length === 0) return false;
        await transaction`DELETE FROM job_logs WHERE job_id = ${id}`;
        return true;
      });
    },
  };
}

/** One job's row, through the pool or in a transaction. */
async function insertJob(
  sql: postgres.Sql | postgres.TransactionSql,
  job: JobRecord,
): Promise<void> {
  await sql`INSERT INTO jobs (id, owner, kind, sandbox, argv, workspace, status, exit_code,
    signal, reason, end_reason, message, sandbox_id, created_at, started_at, finished_at,
    log_bytes, logs_removed_at, logs_removed_reason, host, server, run_options, origin, runtime)
    VALUES (${job.id}, ${job.owner}, ${job.kind}, ${job.sandbox}, ${JSON.stringify(job.argv)},
    ${job.workspace}, ${job.status}, ${job.exitCode}, ${job.signal}, ${withoutNul(job.reason)},
    ${job.endReason}, ${withoutNul(job.message)}, ${job.sandboxId}, ${job.createdAt}, ${job.startedAt},
    ${job.finishedAt}, ${job.logBytes}, ${job.logsRemovedAt}, ${job.logsRemovedReason},
    ${job.host ?? null}, ${job.server ?? null},
    ${job.runOptions ? JSON.stringify(job.runOptions) : null}, ${job.origin ?? null},
    ${job.runtime ?? 'namespace'})`;
}
