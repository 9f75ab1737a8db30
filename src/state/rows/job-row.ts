import type { JobRecord, JobUpdate } from '../state-repository.ts';
import { type StateRow, text } from './row-values.ts';

/** The column of each field a job's update may set. */
export const jobColumns: Record<keyof JobUpdate, string> = {
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

export function toJob(row: StateRow): JobRecord {
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
    origin: text(row.origin),
    runtime: String(row.runtime),
  };
}

/**
 * The queue's order (oldest first, then by insertion) for rows a claim's RETURNING gave back in
 * no order. `created_at` compares by code unit, as the claim's ORDER BY does (SQLite's BINARY
 * collation, PostgreSQL's COLLATE "C"), never by locale.
 */
export function compareQueuedJobRows(left: StateRow, right: StateRow): number {
  const leftCreatedAt = String(left.created_at);
  const rightCreatedAt = String(right.created_at);
  if (leftCreatedAt !== rightCreatedAt) return leftCreatedAt < rightCreatedAt ? -1 : 1;
  return Number(left.seq) - Number(right.seq);
}
