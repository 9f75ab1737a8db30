import type { SQLInputValue } from 'node:sqlite';
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
import type { Row, SqliteDatabase } from './sqlite-database.ts';

/** Cron jobs (what they run as one JSON column `spec`: fixed after creation) and their runs. */
export function sqliteCronStatements({
  statement,
  prepared,
  transaction,
  updateColumns,
}: SqliteDatabase): CronMethods {
  const insertJob = prepared(
    `INSERT INTO cron_jobs (id, owner, name, spec, paused, last_run_at, next_run_at, resumed_at,
     created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const jobByName = prepared('SELECT * FROM cron_jobs WHERE owner = ? AND name = ?');
  const countJobs = prepared('SELECT COUNT(*) AS count FROM cron_jobs WHERE owner = ?');
  // Only while the cron job exists: a manual run racing its removal records nothing.
  const insertRun = prepared(
    `INSERT INTO cron_runs (id, cron_id, owner, scheduled_at, at, status, trigger, reason,
     missed_count, missed_count_is_lower_bound, missed_until, skipped_count, skipped_until, job_id)
     SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM cron_jobs WHERE id = ?)`,
  );
  // ISO times of one format (`toISOString`) order as text.
  const claim = prepared(
    `UPDATE cron_jobs SET last_run_at = ?, next_run_at = ?, updated_at = ?
     WHERE id = ? AND paused = 0 AND (last_run_at IS NULL OR last_run_at < ?)`,
  );
  const newestRun = prepared('SELECT * FROM cron_runs WHERE cron_id = ? ORDER BY seq DESC LIMIT 1');
  const foldSkipped = prepared(
    `UPDATE cron_runs SET skipped_count = COALESCE(skipped_count, 1) + 1, skipped_until = ?,
     at = ?, reason = ? WHERE id = ?`,
  );
  // The newest run whose job is queued or running, or claimed since `since` and not yet submitted.
  const busyRun = prepared(
    `SELECT r.scheduled_at, r.trigger, r.job_id, j.status AS job_status FROM cron_runs r
     LEFT JOIN jobs j ON j.id = r.job_id
     WHERE r.cron_id = ? AND r.status = 'started'
       AND ((r.job_id IS NULL AND r.at >= ?) OR j.status IN ('queued', 'running'))
     ORDER BY r.seq DESC LIMIT 1`,
  );
  // Past the newest `keepRuns`; a run whose job is still queued or running stays (the overlap
  // check reads it).
  const trimRuns = prepared(
    `DELETE FROM cron_runs WHERE cron_id = ? AND seq <= (
       SELECT seq FROM cron_runs WHERE cron_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)
     AND NOT (status = 'started' AND job_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM jobs WHERE jobs.id = cron_runs.job_id
         AND jobs.status IN ('queued', 'running')))`,
  );
  const liveJobs = prepared(
    `SELECT id FROM jobs WHERE owner = ? AND origin = ? AND status IN ('queued', 'running')
     ORDER BY seq`,
  );

  /** Records `run` (in the caller's transaction): skipped when busy, folded, trimmed. */
  function record(run: CronRunRecord, recording: CronRunRecording): CronRunRecord | undefined {
    if (run.status === 'started' && recording.busy) {
      const busy = busyRun().get(run.cronId, recording.busy.since) as Row | undefined;
      if (busy) {
        run.status = 'skipped';
        run.reason = recording.busy.reason(toBusyCronRun(busy));
      }
    }
    if (run.status === 'skipped') {
      const newest = newestRun().get(run.cronId) as Row | undefined;
      if (newest && newest.status === 'skipped' && newest.trigger === run.trigger) {
        foldSkipped().run(run.scheduledAt, run.at, run.reason, String(newest.id));
        return toCronRun(newestRun().get(run.cronId) as Row);
      }
    }
    const result = insertRun().run(
      run.id,
      run.cronId,
      run.owner,
      run.scheduledAt,
      run.at,
      run.status,
      run.trigger,
      run.reason,
      run.missedCount,
      run.missedCountIsLowerBound ? 1 : 0,
      run.missedUntil,
      run.skippedCount,
      run.skippedUntil,
      run.jobId,
      run.cronId,
    );
    if (Number(result.changes) === 0) return undefined;
    trimRuns().run(run.cronId, run.cronId, Math.max(1, recording.keepRuns));
    return { ...run };
  }

  return {
    async insertCronJob(cron, maxPerOwner) {
      let outcome: 'inserted' | 'exists' | 'limit' = 'inserted';
      transaction(() => {
        if (jobByName().get(cron.owner, cron.name)) {
          outcome = 'exists';
          return;
        }
        if (Number((countJobs().get(cron.owner) as Row).count) >= maxPerOwner) {
          outcome = 'limit';
          return;
        }
        insertJob().run(
          cron.id,
          cron.owner,
          cron.name,
          JSON.stringify(specOf(cron)),
          cron.paused ? 1 : 0,
          cron.lastRunAt,
          cron.nextRunAt,
          cron.resumedAt,
          cron.createdAt,
          cron.updatedAt,
        );
      });
      return outcome;
    },
    async updateCronJob(id, update) {
      updateColumns('cron_jobs', cronColumns, update, { sql: 'id = ?', values: [id] });
    },
    async getCronJob(owner, name) {
      const row = jobByName().get(owner, name) as Row | undefined;
      return row && toCronJob(row);
    },
    async listCronJobs(owner) {
      const rows = statement('SELECT * FROM cron_jobs WHERE owner = ? ORDER BY seq').all(
        owner,
      ) as Row[];
      return rows.map(toCronJob);
    },
    async countCronJobs(owner) {
      return Number((countJobs().get(owner) as Row).count);
    },
    async activeCronJobs() {
      const rows = statement(
        'SELECT * FROM cron_jobs WHERE paused = 0 ORDER BY seq',
      ).all() as Row[];
      return rows.map(toCronJob);
    },
    async deleteCronJob(owner, name) {
      let deleted = false;
      transaction(() => {
        const row = jobByName().get(owner, name) as Row | undefined;
        if (!row) return;
        statement('DELETE FROM cron_runs WHERE cron_id = ?').run(String(row.id));
        statement('DELETE FROM cron_jobs WHERE id = ?').run(String(row.id));
        deleted = true;
      });
      return deleted;
    },
    async claimCronRun(run, nextRunAt, recording) {
      const claimed = run.missedUntil ?? run.scheduledAt;
      let stored: CronRunRecord | undefined;
      transaction(() => {
        const result = claim().run(claimed, nextRunAt, run.at, run.cronId, claimed);
        if (Number(result.changes) === 0) return;
        stored = record(run, recording);
      });
      return stored;
    },
    async insertCronRun(run, recording) {
      let stored: CronRunRecord | undefined;
      transaction(() => {
        stored = record(run, recording);
      });
      return stored;
    },
    async updateCronRun(id, update) {
      updateColumns('cron_runs', cronRunColumns, update, { sql: 'id = ?', values: [id] });
    },
    async listCronRuns(cronId, page) {
      const where = ['cron_id = $cron'];
      const parameters: Record<string, SQLInputValue> = { cron: cronId, limit: page.limit + 1 };
      if (page.cursor !== undefined) {
        where.push('seq < $cursor');
        parameters.cursor = Number(page.cursor);
      }
      const rows = statement(
        `SELECT * FROM cron_runs WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $limit`,
      ).all(parameters) as Row[];
      const { records, nextCursor } = seqPage(rows, page.limit, toCronRun);
      return { runs: records, nextCursor };
    },
    async liveJobsOfOrigin(owner, origin) {
      return (liveJobs().all(owner, origin) as Row[]).map((row) => String(row.id));
    },
    async failUnsubmittedCronRuns(before, reason) {
      let failed = 0;
      transaction(() => {
        // A job submitted but not recorded on its run: the oldest of its cron job's origin
        // (`cron:NAME:ID`) created since the run was claimed and on no other run.
        statement(
          `UPDATE cron_runs SET job_id = (
             SELECT j.id FROM jobs j
             WHERE j.owner = cron_runs.owner AND j.origin LIKE 'cron:%'
               AND substr(j.origin, -length(cron_runs.cron_id) - 1) = ':' || cron_runs.cron_id
               AND j.created_at >= cron_runs.at
               AND NOT EXISTS (SELECT 1 FROM cron_runs other WHERE other.job_id = j.id)
             ORDER BY j.seq LIMIT 1)
           WHERE status = 'started' AND job_id IS NULL AND at < ?`,
        ).run(before);
        const result = statement(
          `UPDATE cron_runs SET status = 'failed_to_start', reason = ?
           WHERE status = 'started' AND job_id IS NULL AND at < ?`,
        ).run(reason, before);
        failed = Number(result.changes);
      });
      return failed;
    },
  };
}
