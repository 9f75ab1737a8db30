import type { SandboxUrlRecord } from '../state-repository.ts';
import { flag, type StateRow, text } from './row-values.ts';

export function toSandboxUrl(row: StateRow): SandboxUrlRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    sandbox: String(row.sandbox),
    sandboxCreatedAt: String(row.sandbox_created_at),
    port: Number(row.port),
    public: flag(row.public),
    hostLabel: text(row.host_label),
    createdAt: String(row.created_at),
    expiresAt: text(row.expires_at),
    revokedAt: text(row.revoked_at),
  };
}
