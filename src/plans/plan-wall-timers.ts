import type { PlanRecord } from '../state/state-repository.ts';
import { wallTimeLeftMs } from './plan-budget.ts';

/** The longest delay `setTimeout` takes: a longer one overflows and fires at once. */
export const maxTimerDelayMs = 2 ** 31 - 1;

/**
 * One timer per plan with a wall-time budget: `onDue` is called once it has run out (the caller
 * checks the plan again under its lock). A budget longer than a timer can wait is waited for in
 * steps: the timer is armed again until the time is really up.
 */
export class PlanWallTimers {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #onDue: (plan: PlanRecord) => void;
  readonly #maxDelayMs: number;

  constructor(onDue: (plan: PlanRecord) => void, options: { maxDelayMs?: number } = {}) {
    this.#onDue = onDue;
    this.#maxDelayMs = options.maxDelayMs ?? maxTimerDelayMs;
  }

  arm(plan: PlanRecord): void {
    const leftMs = wallTimeLeftMs(plan.budget, plan.approvedAt);
    if (leftMs === null) return;
    this.clear(plan.id);
    if (leftMs === 0) {
      this.#onDue(plan);
      return;
    }
    // A millisecond past the end: `planBudgetExceeded` counts the end itself as spent, and a
    // timer may fire a little before its time by the clock Date reads.
    const timer = setTimeout(
      () => {
        this.#timers.delete(plan.id);
        this.arm(plan);
      },
      Math.min(leftMs + 1, this.#maxDelayMs),
    );
    timer.unref();
    this.#timers.set(plan.id, timer);
  }

  armed(planId: string): boolean {
    return this.#timers.has(planId);
  }

  clear(planId: string): void {
    clearTimeout(this.#timers.get(planId));
    this.#timers.delete(planId);
  }

  clearAll(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
