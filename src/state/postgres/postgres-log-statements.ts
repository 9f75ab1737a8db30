import { toStoredLog } from '../rows/stored-log-row.ts';
import type { LogMethods } from '../state-method-groups.ts';
import { finishedJobStatuses, type LogChunk } from '../state-repository.ts';
import type { PostgresDatabase } from './postgres-database.ts';

/**
 * Jobs' output (`job_logs`) and what retention reads and removes of it
 * (sqlite-log-statements.ts, the same behaviour). Space removed output held is given back by
 * PostgreSQL's autovacuum, so nothing here reclaims it.
 */
export function postgresLogStatements({ sql }: PostgresDatabase): LogMethods {
  return {
    async appendLog(jobId, chunks) {
      const last = chunks.at(-1);
      if (!last) return;
      const end = last.offset + last.data.length;
      await sql.begin(async (transaction) => {
        // Appends to one job queue up on its row, and its logBytes only moves forward: two
        // processes appending at once (the old server of a job taken over, its successor) leave
        // it at the end of the output, whichever commits last.
        await transaction`SELECT 1 FROM jobs WHERE id = ${jobId} FOR UPDATE`;
        const rows = chunks.map((chunk) => ({
          job_id: jobId,
          offset: chunk.offset,
          stream: chunk.stream,
          data: chunk.data,
        }));
        await transaction`INSERT INTO job_logs ${sql(rows, 'job_id', 'offset', 'stream', 'data')}`;
        await transaction`UPDATE jobs SET log_bytes = GREATEST(log_bytes, ${end}) WHERE id = ${jobId}`;
      });
    },
    async readLog(jobId, fromOffset, maxBytes) {
      // Pages of rows, each bounded by a row count (stored chunks are at most a flush's worth,
      // so `maxBytes / 16 KiB` rows hold about `maxBytes`), until `maxBytes` or the stored end:
      // a job that prints a line at a time stores rows of a few bytes, and one page cut at a row
      // count would end long before `maxBytes` (a reader taking one read for the whole of a
      // small log missed its end). The chunk that contains `from` starts before it, hence the
      // first SELECT.
      const chunks: LogChunk[] = [];
      let bytes = 0;
      let from = fromOffset;
      for (;;) {
        const limit = Math.max(1, Math.ceil((maxBytes - bytes) / 16_384));
        const rows = await sql`
          (SELECT "offset", stream, data FROM job_logs WHERE job_id = ${jobId} AND "offset" <= ${from}
            ORDER BY "offset" DESC LIMIT 1)
          UNION ALL
          (SELECT "offset", stream, data FROM job_logs WHERE job_id = ${jobId} AND "offset" > ${from}
            ORDER BY "offset" LIMIT ${limit})`;
        let beyond = 0; // rows of the second SELECT: fewer than `limit`, the stored end was read
        for (const row of rows) {
          const chunk: LogChunk = {
            offset: Number(row.offset),
            stream: row.stream as LogChunk['stream'],
            data: row.data as Buffer,
          };
          if (chunk.offset > from) beyond++;
          if (chunk.offset + chunk.data.length <= from) continue;
          chunks.push(chunk);
          bytes += chunk.data.length;
          if (bytes >= maxBytes) return chunks;
        }
        const last = chunks.at(-1);
        if (beyond < limit || !last) return chunks;
        from = last.offset + last.data.length;
      }
    },
    async storedLogBytes(owner) {
      const [row] = await sql`SELECT COALESCE(SUM(log_bytes), 0) AS bytes FROM jobs
        WHERE logs_removed_at IS NULL ${owner === undefined ? sql`` : sql`AND owner = ${owner}`}`;
      return Number(row?.bytes ?? 0);
    },
    async storedLogOwners() {
      const rows = await sql`SELECT DISTINCT owner FROM jobs
        WHERE logs_removed_at IS NULL AND log_bytes > 0`;
      return rows.map((row) => String(row.owner));
    },
    async listStoredLogs(filter) {
      const rows = await sql`SELECT id, owner, log_bytes, finished_at FROM jobs
        WHERE status IN ${sql(finishedJobStatuses)} AND logs_removed_at IS NULL AND log_bytes > 0
        ${filter.owner === undefined ? sql`` : sql`AND owner = ${filter.owner}`}
        ${filter.finishedBefore === undefined ? sql`` : sql`AND finished_at < ${filter.finishedBefore}`}
        ORDER BY finished_at, seq LIMIT ${filter.limit}`;
      return rows.map(toStoredLog);
    },
    async removeLogs(jobIds, at, reason) {
      if (jobIds.length === 0) return [];
      const marked = await sql.begin(async (transaction) => {
        // One statement marks them: a job that finishes meanwhile is either in or out, never
        // half (its row is locked by the update).
        const rows = await transaction`UPDATE jobs SET logs_removed_at = ${at},
          logs_removed_reason = ${reason}
          WHERE id IN ${sql(jobIds)} AND status IN ${sql(finishedJobStatuses)}
          AND logs_removed_at IS NULL RETURNING id, owner, log_bytes, finished_at`;
        const ids = rows.map((row) => String(row.id));
        if (ids.length > 0) await transaction`DELETE FROM job_logs WHERE job_id IN ${sql(ids)}`;
        return rows.map(toStoredLog);
      });
      // In the order asked, as SQLite's loop returns them.
      const byId = new Map(marked.map((log) => [log.id, log]));
      return [...new Set(jobIds)].flatMap((id) => byId.get(id) ?? []);
    },
    async logStreamBytes(jobId) {
      const rows = await sql`SELECT stream, SUM(octet_length(data)) AS bytes FROM job_logs
        WHERE job_id = ${jobId} GROUP BY stream`;
      const bytes = { stdout: 0, stderr: 0 };
      for (const row of rows) bytes[row.stream as 'stdout' | 'stderr'] = Number(row.bytes);
      return bytes;
    },
  };
}
