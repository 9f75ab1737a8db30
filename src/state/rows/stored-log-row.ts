import type { StoredLog } from '../state-repository.ts';
import type { StateRow } from './row-values.ts';

export function toStoredLog(row: StateRow): StoredLog {
  return {
    id: String(row.id),
    owner: String(row.owner),
    bytes: Number(row.log_bytes),
    finishedAt: String(row.finished_at),
  };
}
