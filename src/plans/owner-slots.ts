import type { PlanRecord } from '../state/state-repository.ts';
import { inFlight } from './plan-items.ts';

/**
 * Each owner's plan tickets in flight over all their plans (MAGS_PLAN_MAX_PARALLEL_PER_OWNER),
 * as `plan/key` slots. A slot is reserved synchronously before the await that starts a ticket,
 * so two plans of one owner (under different locks) never both take the last one.
 */
export class OwnerSlots {
  readonly #slots = new Map<string, Set<string>>();

  /** The owner's slots taken by their other plans, plus `plan`'s items in flight as they say now. */
  count(plan: Pick<PlanRecord, 'owner' | 'id' | 'tickets'>): number {
    const others = [...(this.#slots.get(plan.owner) ?? [])].filter(
      (slot) => !slot.startsWith(`${plan.id}/`),
    );
    return others.length + plan.tickets.filter(inFlight).length;
  }

  /** Takes the slot of `key` now (before its ticket starts); `release` gives it back on failure. */
  reserve(owner: string, planId: string, key: string): void {
    const slots = this.#slots.get(owner) ?? new Set<string>();
    slots.add(`${planId}/${key}`);
    this.#slots.set(owner, slots);
  }

  release(owner: string, planId: string, key: string): void {
    this.#slots.get(owner)?.delete(`${planId}/${key}`);
  }

  /**
   * The plan's slots as its record says (none unless running or blocked). Returns whether the
   * owner's count dropped (their other plans may move on).
   */
  sync(plan: Pick<PlanRecord, 'owner' | 'id' | 'tickets' | 'status'>): boolean {
    const slots = this.#slots.get(plan.owner) ?? new Set<string>();
    const before = slots.size;
    for (const slot of [...slots]) if (slot.startsWith(`${plan.id}/`)) slots.delete(slot);
    if (plan.status === 'running' || plan.status === 'blocked') {
      for (const item of plan.tickets.filter(inFlight)) slots.add(`${plan.id}/${item.key}`);
    }
    if (slots.size === 0) this.#slots.delete(plan.owner);
    else this.#slots.set(plan.owner, slots);
    return slots.size < before;
  }
}
