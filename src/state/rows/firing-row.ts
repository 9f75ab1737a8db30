import type { FiringRecord } from '../state-repository.ts';
import { flag, nullableNumber, type StateRow, text } from './row-values.ts';

export function toFiring(row: StateRow): FiringRecord {
  return {
    id: String(row.id),
    trigger: String(row.trigger_id),
    owner: String(row.owner),
    at: String(row.at),
    scheduledAt: text(row.scheduled_at),
    source: row.source as FiringRecord['source'],
    key: text(row.dedupe_key),
    status: row.status as FiringRecord['status'],
    reason: text(row.reason),
    ticket: text(row.ticket_id),
    plan: text(row.plan_id),
    payload: row.payload === null ? null : JSON.parse(String(row.payload)),
    chain: JSON.parse(String(row.chain)) as string[],
    repeats: Number(row.repeats),
    reservedUsd: nullableNumber(row.reserved_usd),
    active: flag(row.active),
  };
}
