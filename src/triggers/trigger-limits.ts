import type { FiringSource } from '../api/triggers.ts';
import type { FiringRecord, TriggerRecord } from '../state/state-repository.ts';
import type { WorkState } from './trigger-work.ts';

/** Triggers in a chain at most (A's ticket fires B, B's fires C): deeper is refused as a loop. */
export const maxChainDepth = 3;

/** What a firing's work counts for: a created firing's work state (undefined: not made yet or gone). */
export interface CountedFiring {
  firing: FiringRecord;
  work: WorkState | undefined;
}

export interface LimitCheck {
  /** Why the firing is skipped, in words; null: it may go ahead. */
  reason: string | null;
  /** What is left of the daily budget in USD (null: no budget): the new work's cap. */
  remainingUsd: number | null;
}

/**
 * Whether a firing's work still counts as running: its ticket or plan is queued or running, or
 * it was claimed and its ticket is being made (no id yet, the firing still active).
 */
export function stillActive({ firing, work }: CountedFiring): boolean {
  if (work) return work.active;
  return firing.active && !firing.ticket && !firing.plan;
}

/**
 * The loop check: `chain` is the triggers whose firings led to this one (a ticket of a plan
 * inherits the plan's). A trigger already in it, or a chain at `maxChainDepth`, is refused.
 */
export function loopReason(trigger: TriggerRecord, chain: readonly string[]): string | null {
  if (chain.includes(trigger.id)) {
    return `a loop: this firing comes from ${[...chain, trigger.id].join(' → ')}, which has fired this trigger already`;
  }
  if (chain.length >= maxChainDepth) {
    return `a chain of ${chain.length} triggers led to it (${chain.join(' → ')}); at most ${maxChainDepth} fire one another`;
  }
  return null;
}

/**
 * The trigger's limits, checked before anything is created, in the order a person would ask:
 * paused, a schedule's previous run still going, the firings and the money of the day (UTC), the
 * work running at once. `counted` are its created firings of today and its active ones of any
 * day, each with its work's state. Money is reserved: a finished work counts what it cost, an
 * active one the most it may cost (its cap), charged to today even if it started yesterday, so
 * N tickets at once cannot spend N times the budget and midnight frees nothing still running.
 */
export function checkLimits(
  trigger: TriggerRecord,
  source: FiringSource,
  counted: CountedFiring[],
  now: Date,
): LimitCheck {
  const { spec } = trigger;
  const dayStart = new Date(
    Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()),
  ).toISOString();
  const today = counted.filter(({ firing }) => firing.at >= dayStart);
  const spent = counted.reduce((sum, each) => sum + charged(each, dayStart), 0);
  const remaining = spec.dailyBudgetUsd === null ? null : Math.max(0, spec.dailyBudgetUsd - spent);
  const skip = (reason: string): LimitCheck => ({ reason, remainingUsd: remaining });
  if (trigger.paused && source !== 'manual') return skip('the trigger is paused');
  const scheduled = (each: FiringSource) => each === 'schedule' || each === 'catch_up';
  if (scheduled(source) && !spec.allowOverlap) {
    const previous = counted.find(({ firing }) => scheduled(firing.source));
    if (previous && stillActive(previous)) {
      const what = previous.firing.plan ? 'plan' : 'ticket';
      return skip(
        `the previous scheduled firing's ${what} ${previous.work?.id ?? '(being made)'} is still queued or running (--allow-overlap is off)`,
      );
    }
  }
  if (spec.maxFiringsPerDay !== null && today.length >= spec.maxFiringsPerDay) {
    return skip(`its firings today (UTC) reached --max-per-day ${spec.maxFiringsPerDay}`);
  }
  if (spec.dailyBudgetUsd !== null && spent >= spec.dailyBudgetUsd) {
    return skip(
      `the daily budget of $${spec.dailyBudgetUsd} is spent or reserved by running work (UTC)`,
    );
  }
  const active = counted.filter(stillActive).length;
  if (active >= spec.maxConcurrent) {
    return skip(`its work reached --max-concurrent ${spec.maxConcurrent} (queued or running)`);
  }
  return { reason: null, remainingUsd: remaining };
}

/** What one firing's work is charged today: its cap while active, its cost when done today. */
function charged(each: CountedFiring, dayStart: string): number {
  const cost = each.work?.costUsd ?? 0;
  if (stillActive(each)) return Math.max(cost, each.firing.reservedUsd ?? 0);
  return each.firing.at >= dayStart ? cost : 0;
}
