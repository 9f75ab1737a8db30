import type { SQLInputValue } from 'node:sqlite';
import type { CronSpec } from '../../api/cron.ts';
import type {
  CronJobRecord,
  CronJobUpdate,
  CronRunRecord,
  CronRunUpdate,
  StateRepository,
} from '../state-repository.ts';
import { type Row, type SqliteDatabase, text } from './sqlite-database.ts';

type CronMethods = Pick<
  StateRepository,
  | 'insertCronJob'
  | 'updateCronJob'
  | 'getCronJob'
  | 'listCronJobs'
  | 'countCronJobs'
  | 'activeCronJobs'
  | 'deleteCronJob'
  | 'claimCronRun'
  | 'insertCronRun'
  | 'updateCronRun'
  | 'listCronRuns'
  | 'lastCronRunWithJob'
  | 'failUnsubmittedCronRuns'
>;

/** Cron jobs (what they run as one JSON column `spec`: fixed after creation) and their runs. */
export function sqliteCronStatements({
  statement,
  prepared,
  transaction,
}: SqliteDatabase): CronMethods {
  const insertJob = prepared(
    `INSERT INTO cron_jobs (id, owner, name, spec, paused, last_run_at, next_run_at, resumed_at,
     created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const jobByName = prepared('SELECT * FROM cron_jobs WHERE owner = ? AND name = ?');
  const insertRun = prepared(
    `INSERT INTO cron_runs (id, cron_id, owner, scheduled_at, at, status, trigger, reason,
     missed_count, missed_until, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // ISO times of one format (`toISOString`) order as text.
  const claim = prepared(
    `UPDATE cron_jobs SET last_run_at = ?, next_run_at = ?, updated_at = ?
     WHERE id = ? AND paused = 0 AND (last_run_at IS NULL OR last_run_at < ?)`,
  );
  const runWithJob = prepared(
    'SELECT * FROM cron_runs WHERE cron_id = ? AND job_id IS NOT NULL ORDER BY seq DESC LIMIT 1',
  );
  const addRun = (run: CronRunRecord) =>
    insertRun().run(
      run.id,
      run.cronId,
      run.owner,
      run.scheduledAt,
      run.at,
      run.status,
      run.trigger,
      run.reason,
      run.missedCount,
      run.missedUntil,
      run.jobId,
    );
  return {
    async insertCronJob(cron) {
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
    },
    async updateCronJob(id, update) {
      const columns = Object.entries(update)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]): [string, SQLInputValue] => {
          const column = cronColumns[key as keyof CronJobUpdate];
          if (!column) throw new Error(`updateCronJob: no column for ${key}`);
          return [column, typeof value === 'boolean' ? Number(value) : (value as SQLInputValue)];
        });
      if (columns.length === 0) return;
      statement(
        `UPDATE cron_jobs SET ${columns.map(([column]) => `${column} = ?`).join(', ')} WHERE id = ?`,
      ).run(...columns.map(([, value]) => value), id);
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
      const row = statement('SELECT COUNT(*) AS count FROM cron_jobs WHERE owner = ?').get(
        owner,
      ) as Row;
      return Number(row.count);
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
    async claimCronRun(run, nextRunAt) {
      const claimed = run.missedUntil ?? run.scheduledAt;
      let done = false;
      transaction(() => {
        const result = claim().run(claimed, nextRunAt, run.at, run.cronId, claimed);
        if (Number(result.changes) === 0) return;
        addRun(run);
        done = true;
      });
      return done;
    },
    async insertCronRun(run) {
      addRun(run);
    },
    async updateCronRun(id, update) {
      const columns = Object.entries(update)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]): [string, SQLInputValue] => {
          const column = runColumns[key as keyof CronRunUpdate];
          if (!column) throw new Error(`updateCronRun: no column for ${key}`);
          return [column, value as SQLInputValue];
        });
      if (columns.length === 0) return;
      statement(
        `UPDATE cron_runs SET ${columns.map(([column]) => `${column} = ?`).join(', ')} WHERE id = ?`,
      ).run(...columns.map(([, value]) => value), id);
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
      const shown = rows.slice(0, page.limit);
      const last = shown.at(-1);
      return {
        runs: shown.map(toCronRun),
        nextCursor: rows.length > page.limit && last ? String(last.seq) : null,
      };
    },
    async lastCronRunWithJob(cronId) {
      const row = runWithJob().get(cronId) as Row | undefined;
      return row && toCronRun(row);
    },
    async failUnsubmittedCronRuns(before, reason) {
      const result = statement(
        `UPDATE cron_runs SET status = 'failed_to_start', reason = ?
         WHERE status = 'started' AND job_id IS NULL AND at < ?`,
      ).run(reason, before);
      return Number(result.changes);
    },
  };
}

const cronColumns: Record<keyof CronJobUpdate, string> = {
  paused: 'paused',
  lastRunAt: 'last_run_at',
  nextRunAt: 'next_run_at',
  resumedAt: 'resumed_at',
  updatedAt: 'updated_at',
};

const runColumns: Record<keyof CronRunUpdate, string> = {
  status: 'status',
  reason: 'reason',
  jobId: 'job_id',
};

function specOf(cron: CronJobRecord): CronSpec {
  return {
    schedule: cron.schedule,
    timezone: cron.timezone,
    command: cron.command,
    workspace: cron.workspace,
    persist: cron.persist,
    network: cron.network,
    timeoutSeconds: cron.timeoutSeconds,
    allowOverlap: cron.allowOverlap,
    catchUp: cron.catchUp,
  };
}

function toCronJob(row: Row): CronJobRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    name: String(row.name),
    ...(JSON.parse(String(row.spec)) as CronSpec),
    paused: Number(row.paused) === 1,
    lastRunAt: text(row.last_run_at),
    nextRunAt: text(row.next_run_at),
    resumedAt: text(row.resumed_at),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

function toCronRun(row: Row): CronRunRecord {
  return {
    id: String(row.id),
    cronId: String(row.cron_id),
    owner: String(row.owner),
    scheduledAt: String(row.scheduled_at),
    at: String(row.at),
    status: row.status as CronRunRecord['status'],
    trigger: row.trigger as CronRunRecord['trigger'],
    reason: text(row.reason),
    missedCount: row.missed_count === null ? null : Number(row.missed_count),
    missedUntil: text(row.missed_until),
    jobId: text(row.job_id),
  };
}
