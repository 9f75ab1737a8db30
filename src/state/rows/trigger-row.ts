import type { TriggerRecord, TriggerSpec, TriggerUpdate } from '../state-repository.ts';
import { flag, type StateRow, text } from './row-values.ts';

/** The column of each field a trigger's update may set. */
export const triggerColumns: Record<keyof TriggerUpdate, string> = {
  paused: 'paused',
  lastFiredAt: 'last_fired_at',
  nextFireAt: 'next_fire_at',
  secret: 'secret',
  updatedAt: 'updated_at',
};

export function toTrigger(row: StateRow): TriggerRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    name: String(row.name),
    project: String(row.project),
    kind: row.kind as TriggerRecord['kind'],
    spec: JSON.parse(String(row.spec)) as TriggerSpec,
    secret: text(row.secret),
    paused: flag(row.paused),
    lastFiredAt: text(row.last_fired_at),
    nextFireAt: text(row.next_fire_at),
    version: Number(row.version),
    lastScheduledAt: text(row.last_scheduled_at),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}
