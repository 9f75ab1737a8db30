import type { TokenRecord } from '../state-repository.ts';
import { flag, type StateRow, text } from './row-values.ts';

export function toToken(row: StateRow): TokenRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    name: String(row.name),
    hash: String(row.hash),
    createdAt: String(row.created_at),
    revokedAt: text(row.revoked_at),
    admin: flag(row.admin),
  };
}
