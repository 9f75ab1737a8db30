import type { WorkspaceRecord } from '../state-repository.ts';
import type { StateRow } from './row-values.ts';

export function toWorkspace(row: StateRow): WorkspaceRecord {
  return {
    owner: String(row.owner),
    name: String(row.name),
    createdAt: String(row.created_at),
    lastUsedAt: String(row.last_used_at),
  };
}
