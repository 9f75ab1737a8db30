import type postgres from 'postgres';
import {
  cronColumns,
  cronRunColumns,
  specOf,
  toBusyCronRun,
  toCronJob,
  toCronRun,
} from '../rows/cron-row.ts';
import { seqPage } from '../rows/seq-page.ts';
import type { CronMethods } from '../state-method-groups.ts';
import type { CronRunRecord, CronRunRecording } from '../state-repository.ts';
import { lockKey, lockNamespaces } from './postgres-advisory-lock.ts';
import { columnValues } from './postgres-column-values.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { safeInteger } from './postgres-row-values.ts';

/**
 * Cron jobs (what they run as one JSON column `spec`: fixed after creation) and their runs. What
 * SQLite's single writer serialised, the cron job's row lock does here: a run is recorded only
 * under it (`FOR UPDATE`, or the claim's UPDATE), so the overlap check, the folding of skipped
 * runs and the trimming see every run another server recorded before.
 */
export function postgresCronStatements({ sql }: PostgresDatabase): CronMethods {
  /** Records `run` in `transaction`: skipped when busy, folded, trimmed; undefined when the cron job is gone. */
  async function record(
    transaction: postgres.TransactionSql,
    run: CronRunRecord,
    recording: CronRunRecording,
  ): Promise<CronRunRecord | undefined> {
    // Only while the cron job exists: a manual run racing its removal records nothing.
    const [cron] = await transaction`SELECT 1 FROM cron_jobs WHERE id = ${run.cronId} FOR UPDATE`;
    if (!cron) return undefined;
    if (run.status === 'started' && recording.busy) {
      // The newest run whose job is queued or running, or claimed since `since` and not yet submitted.
      const [busy] = await transaction`SELECT r.scheduled_at, r.trigger, r.job_id,
          j.status AS job_status
        FROM cron_runs r LEFT JOIN jobs j ON j.id = r.job_id
        WHERE r.cron_id = ${run.cronId} AND r.status = 'started'
          AND ((r.job_id IS NULL AND r.at >= ${recording.busy.since})
            OR j.status IN ('queued', 'running'))
        ORDER BY r.seq DESC LIMIT 1`;
      if (busy) {
        run.status = 'skipped';
        run.reason = recording.busy.reason(toBusyCronRun(busy));
      }
    }
    if (run.status === 'skipped') {
      const [newest] = await transaction`SELECT id, status, trigger FROM cron_runs
        WHERE cron_id = ${run.cronId} ORDER BY seq DESC LIMIT 1`;
      if (newest && newest.status === 'skipped' && newest.trigger === run.trigger) {
        const [folded] = await transaction`UPDATE cron_runs
          SET skipped_count = COALESCE(skipped_count, 1) + 1, skipped_until = ${run.scheduledAt},
            at = ${run.at}, reason = ${run.reason}
          WHERE id = ${String(newest.id)} RETURNING *`;
        return toCronRun(folded as postgres.Row);
      }
    }
    await transaction`INSERT INTO cron_runs (id, cron_id, owner, scheduled_at, at, status, trigger,
      reason, missed_count, missed_count_is_lower_bound, missed_until, skipped_count,
      skipped_until, job_id)
      VALUES (${run.id}, ${run.cronId}, ${run.owner}, ${run.scheduledAt}, ${run.at}, ${run.status},
      ${run.trigger}, ${run.reason}, ${run.missedCount}, ${run.missedCountIsLowerBound},
      ${run.missedUntil}, ${run.skippedCount}, ${run.skippedUntil}, ${run.jobId})`;
    // Past the newest `keepRuns`; a run whose job is still queued or running stays (the overlap
    // check reads it).
    await transaction`DELETE FROM cron_runs WHERE cron_id = ${run.cronId} AND seq <= (
        SELECT seq FROM cron_runs WHERE cron_id = ${run.cronId}
        ORDER BY seq DESC LIMIT 1 OFFSET ${Math.max(1, recording.keepRuns)})
      AND NOT (status = 'started' AND job_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM jobs WHERE jobs.id = cron_runs.job_id
          AND jobs.status IN ('queued', 'running')))`;
    return { ...run };
  }

  return {
    async insertCronJob(cron, maxPerOwner) {
      return sql.begin(async (transaction) => {
        // The owner's cron jobs are counted and added under one lock: two servers adding at
        // once never both pass the limit.
        await lockKey(transaction, lockNamespaces.cronOwner, cron.owner);
        const [existing] = await transaction`SELECT 1 FROM cron_jobs
          WHERE owner = ${cron.owner} AND name = ${cron.name}`;
        if (existing) return 'exists' as const;
        const [counted] =
          await transaction`SELECT COUNT(*) AS count FROM cron_jobs WHERE owner = ${cron.owner}`;
        if (Number(counted?.count) >= maxPerOwner) return 'limit' as const;
        await transaction`INSERT INTO cron_jobs (id, owner, name, spec, paused, last_run_at,
          next_run_at, resumed_at, created_at, updated_at)
          VALUES (${cron.id}, ${cron.owner}, ${cron.name}, ${JSON.stringify(specOf(cron))},
          ${cron.paused}, ${cron.lastRunAt}, ${cron.nextRunAt}, ${cron.resumedAt},
          ${cron.createdAt}, ${cron.updatedAt})`;
        return 'inserted' as const;
      });
    },
    async updateCronJob(id, update) {
      const values = columnValues('cron_jobs', cronColumns, update);
      if (Object.keys(values).length > 0)
        await sql`UPDATE cron_jobs SET ${sql(values)} WHERE id = ${id}`;
    },
    async getCronJob(owner, name) {
      const [row] = await sql`SELECT * FROM cron_jobs WHERE owner = ${owner} AND name = ${name}`;
      return row && toCronJob(row);
    },
    async listCronJobs(owner) {
      const rows = await sql`SELECT * FROM cron_jobs WHERE owner = ${owner} ORDER BY seq`;
      return rows.map(toCronJob);
    },
    async countCronJobs(owner) {
      const [row] = await sql`SELECT COUNT(*) AS count FROM cron_jobs WHERE owner = ${owner}`;
      return Number(row?.count);
    },
    async activeCronJobs() {
      const rows = await sql`SELECT * FROM cron_jobs WHERE NOT paused ORDER BY seq`;
      return rows.map(toCronJob);
    },
    async deleteCronJob(owner, name) {
      return sql.begin(async (transaction) => {
        const [row] = await transaction`DELETE FROM cron_jobs
          WHERE owner = ${owner} AND name = ${name} RETURNING id`;
        if (!row) return false;
        await transaction`DELETE FROM cron_runs WHERE cron_id = ${String(row.id)}`;
        return true;
      });
    },
    async claimCronRun(run, nextRunAt, recording) {
      const claimed = run.missedUntil ?? run.scheduledAt;
      return sql.begin(async (transaction) => {
        // The UPDATE holds the cron job's row: a second server claiming the same time waits,
        // then finds last_run_at moved and claims nothing. ISO times of one format order as text.
        const result = await transaction`UPDATE cron_jobs SET last_run_at = ${claimed},
          next_run_at = ${nextRunAt}, updated_at = ${run.at}
          WHERE id = ${run.cronId} AND NOT paused
            AND (last_run_at IS NULL OR last_run_at < ${claimed})`;
        if (result.count === 0) return undefined;
        return record(transaction, run, recording);
      });
    },
    async insertCronRun(run, recording) {
      return sql.begin((transaction) => record(transaction, run, recording));
    },
    async updateCronRun(id, update) {
      const values = columnValues('cron_runs', cronRunColumns, update);
      if (Object.keys(values).length > 0)
        await sql`UPDATE cron_runs SET ${sql(values)} WHERE id = ${id}`;
    },
    async listCronRuns(cronId, page) {
      // A cursor past any seq (the API takes any digits) lists from the newest, as in SQLite; it
      // must not overflow BIGINT.
      const rows = await sql`SELECT * FROM cron_runs WHERE cron_id = ${cronId}
        ${page.cursor === undefined ? sql`` : sql`AND seq < ${safeInteger(Number(page.cursor))}`}
        ORDER BY seq DESC LIMIT ${page.limit + 1}`;
      const { records, nextCursor } = seqPage(rows, page.limit, toCronRun);
      return { runs: records, nextCursor };
    },
    async liveJobsOfOrigin(owner, origin) {
      const rows = await sql`SELECT id FROM jobs WHERE owner = ${owner} AND origin = ${origin}
        AND status IN ('queued', 'running') ORDER BY seq`;
      return rows.map((row) => String(row.id));
    },
    async failUnsubmittedCronRuns(before, reason) {
      return sql.begin(async (transaction) => {
        // One server at a time, so a job is given to one run only.
        await lockKey(transaction, lockNamespaces.cronRecovery, 'unsubmitted');
        const runs = await transaction`SELECT id FROM cron_runs
          WHERE status = 'started' AND job_id IS NULL AND at < ${before} ORDER BY seq FOR UPDATE`;
        // Run by run, oldest first, so each statement sees the jobs given to the runs before: a
        // job submitted but not recorded on its run is the oldest of its cron job's origin
        // (`cron:NAME:ID`) created since the run was claimed and on no other run.
        for (const run of runs) {
          await transaction`UPDATE cron_runs SET job_id = (
              SELECT j.id FROM jobs j
              WHERE j.owner = cron_runs.owner AND j.origin LIKE 'cron:%'
                AND right(j.origin, length(cron_runs.cron_id) + 1) = ':' || cron_runs.cron_id
                AND j.created_at >= cron_runs.at
                AND NOT EXISTS (SELECT 1 FROM cron_runs other WHERE other.job_id = j.id)
              ORDER BY j.seq LIMIT 1)
            WHERE id = ${String(run.id)}`;
        }
        const failed = await transaction`UPDATE cron_runs
          SET status = 'failed_to_start', reason = ${reason}
          WHERE status = 'started' AND job_id IS NULL AND at < ${before}`;
        return failed.count;
      });
    },
  };
}
