import type { PlanTicket } from '../api/plans.ts';
import type { Evidence } from '../api/tickets.ts';
import type { PlanRecord } from '../state/state-repository.ts';
import type { PlanDispatch } from './plan-dispatch.ts';

/**
 * Why a ticket awaiting review is left for a person rather than approved automatically, in
 * words; null when its evidence passed (every criterion verified met, its tests passed or none).
 */
export function autoApprovalRefusal(
  evidence: Pick<Evidence, 'criteria' | 'tests'> | undefined,
): string | null {
  if (!evidence) return 'it has no evidence';
  const unmet = evidence.criteria.filter((criterion) => criterion.status !== 'met');
  if (unmet.length > 0) {
    return `${unmet.length} of ${evidence.criteria.length} criteria not verified met`;
  }
  const tests = evidence.tests;
  if (tests && tests.exitCode !== 0) {
    return `its tests failed (${tests.timedOut ? 'timed out' : `exit ${tests.exitCode}`})`;
  }
  return null;
}

/** With `autoApprove`, a ticket awaiting review whose evidence passed is approved (not here: after). */
export function maybeAutoApprove(dispatch: PlanDispatch, plan: PlanRecord, item: PlanTicket): void {
  if (!plan.autoApprove || !item.ticket || plan.status !== 'running') return;
  const ticketId = item.ticket;
  dispatch.background(
    `plan ${plan.id}: auto-approval of ${ticketId}`,
    autoApprove(dispatch, plan, item.key, ticketId),
  );
}

async function autoApprove(
  dispatch: PlanDispatch,
  planAtStart: PlanRecord,
  key: string,
  ticketId: string,
): Promise<void> {
  const { repository, tickets } = dispatch.options;
  const evidence = await repository.getEvidence(ticketId);
  const why = autoApprovalRefusal(evidence);
  if (why) {
    await dispatch.notice(
      planAtStart.id,
      `ticket ${key} (${ticketId}) waits for a person's review: ${why}`,
    );
    return;
  }
  // Checked again under the plan's lock right before: a plan stopped meanwhile approves nothing.
  const refused = await dispatch.locked(planAtStart.id, async () => {
    const plan = await repository.getPlan(planAtStart.owner, planAtStart.id);
    if (plan?.status !== 'running') return `its plan is ${plan?.status ?? 'gone'}`;
    try {
      await tickets.approve(plan.owner, ticketId, {});
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  });
  if (refused) {
    await dispatch.notice(
      planAtStart.id,
      `ticket ${key} (${ticketId}) could not be approved automatically: ${refused}`,
    );
  }
}
