import type { Trigger, TriggerFiring } from '../api/triggers.ts';
import type { FiringRecord, TriggerRecord } from '../state/state-repository.ts';

/** The API's view of a trigger: its settings flat, without its owner or its secret. */
export function toTriggerView(record: TriggerRecord): Trigger {
  const { spec } = record;
  return {
    id: record.id,
    name: record.name,
    project: record.project,
    kind: record.kind,
    creates: spec.creates,
    template: spec.template,
    schedule: spec.schedule,
    event: spec.event,
    hookPath: record.kind === 'webhook' ? `/v1/hooks/${record.id}` : null,
    allowOverlap: spec.allowOverlap,
    maxConcurrent: spec.maxConcurrent,
    dailyBudgetUsd: spec.dailyBudgetUsd,
    maxFiringsPerDay: spec.maxFiringsPerDay,
    autoApprove: spec.autoApprove,
    dedupeKey: spec.dedupeKey,
    paused: record.paused,
    lastFiredAt: record.lastFiredAt,
    nextFireAt: record.nextFireAt,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

export function toFiringView(record: FiringRecord): TriggerFiring {
  const { owner: _owner, active: _active, reservedUsd: _reservedUsd, ...firing } = record;
  return { ...firing, payload: firing.payload ?? null };
}
