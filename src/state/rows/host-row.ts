import type { HostRecord } from '../state-repository.ts';
import { type StateRow, text } from './row-values.ts';

export function toHost(row: StateRow): HostRecord {
  return {
    id: String(row.id),
    server: String(row.server),
    address: text(row.address),
    runtimes: textList(row.runtimes),
    maxJobs: Number(row.max_jobs),
    runningJobs: Number(row.running_jobs),
    warmWorkspaces: textList(row.warm_workspaces),
    startedAt: String(row.started_at),
    heartbeatAt: String(row.heartbeat_at),
    goneAt: text(row.gone_at),
    goneReason: text(row.gone_reason),
  };
}

/** A list of text: PostgreSQL's text[] arrives as an array, SQLite's as JSON text. */
const textList = (value: unknown): string[] =>
  Array.isArray(value) ? (value as string[]) : (JSON.parse(String(value)) as string[]);
