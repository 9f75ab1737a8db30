import type { SandboxRecord } from '../state-repository.ts';
import { type StateRow, text } from './row-values.ts';

export function toSandbox(row: StateRow): SandboxRecord {
  return {
    owner: String(row.owner),
    name: String(row.name),
    runtimeId: text(row.runtime_id),
    workspace: text(row.workspace),
    status: row.status as SandboxRecord['status'],
    options: JSON.parse(String(row.options)) as Record<string, unknown>,
    reason: text(row.reason),
    createdAt: String(row.created_at),
    lastActiveAt: String(row.last_active_at),
    host: text(row.host),
    server: text(row.server),
    runtime: String(row.runtime),
  };
}
