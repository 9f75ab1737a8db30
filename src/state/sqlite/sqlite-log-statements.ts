import type { SQLInputValue } from 'node:sqlite';
import { toStoredLog } from '../rows/stored-log-row.ts';
import type { LogMethods } from '../state-method-groups.ts';
import type { LogChunk, StoredLog } from '../state-repository.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';
import { finishedStatusesSql } from './sqlite-job-statements.ts';

/** Jobs' output (`job_logs`) and what retention reads and removes of it. */
export function sqliteLogStatements(sqlite: SqliteDatabase): LogMethods {
  const { statement, prepared, transaction } = sqlite;
  const insertLog = prepared(
    'INSERT INTO job_logs (job_id, offset, stream, data) VALUES (?, ?, ?, ?)',
  );
  const setLogBytes = prepared('UPDATE jobs SET log_bytes = ? WHERE id = ?');
  const readLog = prepared(
    // The chunk that contains `fromOffset` starts before it, hence the first SELECT. No row
    // limit: rows are stepped through one at a time, and the read stops at `maxBytes`.
    `SELECT * FROM (SELECT offset, stream, data FROM job_logs WHERE job_id = $job AND offset <= $from
       ORDER BY offset DESC LIMIT 1)
     UNION ALL
     SELECT * FROM (SELECT offset, stream, data FROM job_logs WHERE job_id = $job AND offset > $from
       ORDER BY offset)`,
  );
  return {
    async appendLog(jobId, chunks) {
      const last = chunks.at(-1);
      if (!last) return;
      transaction(() => {
        for (const chunk of chunks) insertLog().run(jobId, chunk.offset, chunk.stream, chunk.data);
        setLogBytes().run(last.offset + last.data.length, jobId);
      });
    },
    async readLog(jobId, fromOffset, maxBytes) {
      // Stopped by bytes, not by a row count: a job that prints a line at a time stores rows of
      // a few bytes, and a page cut at a row count would end long before `maxBytes` (a reader
      // taking one read for the whole of a small log missed its end). Stepping stops early.
      const rows = readLog().iterate({ job: jobId, from: fromOffset }) as Iterable<Row>;
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
      const where = [
        `status IN (${finishedStatusesSql})`,
        'logs_removed_at IS NULL',
        'log_bytes > 0',
      ];
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
           WHERE id = ? AND status IN (${finishedStatusesSql}) AND logs_removed_at IS NULL
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
      if (removed.length > 0) await sqlite.reclaimSpace();
      return removed;
    },
    async logStreamBytes(jobId) {
      const rows = statement(
        'SELECT stream, SUM(length(data)) AS bytes FROM job_logs WHERE job_id = ? GROUP BY stream',
      ).all(jobId) as Row[];
      const bytes = { stdout: 0, stderr: 0 };
      for (const row of rows) bytes[row.stream as 'stdout' | 'stderr'] = Number(row.bytes);
      return bytes;
    },
  };
}
