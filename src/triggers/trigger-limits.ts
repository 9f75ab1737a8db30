import type { FiringSource } from '../api/triggers.ts';
import type { FiringRecord, TriggerRecord } from '../state/state-repository.ts';
import type { WorkState } from './trigger-work.ts';

/** The created firings looked at for the limits (newest first): more than any limit counts. */
export const recentFiringsLooked = 500;

export interface LimitCheck {
  /** Why the firing is skipped, in words; null: it may go ahead. */
  reason: string | null;
  /** What is left of the daily budget in USD (null: no budget): the new work's cap. */
  remainingUsd: number | null;
}

/**
 * The trigger's limits, checked before anything is created, in the order a person would ask:
 * paused, a schedule's previous run still going, the firings and the money of the day (UTC), the
 * tickets running at once. `recent` are its latest created firings, each with its work's state.
 */
export function checkLimits(
  trigger: TriggerRecord,
  source: FiringSource,
  recent: { firing: FiringRecord; work: WorkState | undefined }[],
  now: Date,
): LimitCheck {
  const { spec } = trigger;
  const remaining = (spent: number) =>
    spec.dailyBudgetUsd === null ? null : spec.dailyBudgetUsd - spent;
  const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const today = recent.filter(({ firing }) => firing.at >= dayStart.toISOString());
  const spent = today.reduce((sum, { work }) => sum + (work?.costUsd ?? 0), 0);
  const skip = (reason: string): LimitCheck => ({ reason, remainingUsd: remaining(spent) });
  if (trigger.paused) return skip('the trigger is paused');
  const scheduled = (each: FiringSource) => each === 'schedule' || each === 'catch_up';
  if (scheduled(source) && !spec.allowOverlap) {
    const previous = recent.find(({ firing }) => scheduled(firing.source));
    if (previous?.work?.active) {
      return skip(
        `the previous scheduled firing's ${previous.firing.plan ? 'plan' : 'ticket'} ${previous.work.id} is still queued or running (allowOverlap is off)`,
      );
    }
  }
  if (spec.maxFiringsPerDay !== null && today.length >= spec.maxFiringsPerDay) {
    return skip(
      `${today.length} firing${today.length === 1 ? '' : 's'} today (UTC) reached maxFiringsPerDay ${spec.maxFiringsPerDay}`,
    );
  }
  if (spec.dailyBudgetUsd !== null && spent >= spec.dailyBudgetUsd) {
    return skip(
      `the daily budget of $${spec.dailyBudgetUsd} is spent ($${spent.toFixed(4)} today, UTC)`,
    );
  }
  const active = recent.filter(({ work }) => work?.active).length;
  if (active >= spec.maxConcurrent) {
    return skip(
      `${active} of its firings' work ${active === 1 ? 'is' : 'are'} queued or running (maxConcurrent ${spec.maxConcurrent})`,
    );
  }
  return { reason: null, remainingUsd: remaining(spent) };
}
