import type { PlanStatus } from '../api/plans.ts';
import { ConflictError, NotFoundError } from '../errors/mags-error.ts';

export function planNotFound(id: string): NotFoundError {
  return new NotFoundError(`No plan ${JSON.stringify(id)}.`, {
    code: 'plan_not_found',
    hint: 'mags plan list shows yours.',
  });
}

/** What a person can do with a plan in each status, for the hint of a refused action. */
const nextSteps: Record<PlanStatus, string> = {
  planning: 'wait for the planner (mags plan watch ID), or close it',
  draft: 'edit it (mags plan edit ID), approve it (mags plan approve ID) or close it',
  running: 'watch it (mags plan watch ID), or stop it (mags plan stop ID)',
  integrating: 'wait for the integration (mags plan watch ID)',
  awaiting_review: 'review it (mags plan evidence ID), then approve or close it',
  approved: 'apply it in your checkout (mags plan apply ID)',
  blocked:
    'see why (mags plan show ID), then retry a ticket (mags plan retry ID TICKET) or close it',
  failed: 'see why (mags plan show ID), then create it again or close it',
  stopped: 'retry a ticket (mags plan retry ID TICKET) or close it',
  closed: 'create a new plan',
};

/** An action the plan's status does not allow: a 409 saying what it allows instead. */
export function wrongPlanStatus(
  id: string,
  action: string,
  status: PlanStatus,
  allowed: readonly PlanStatus[],
): ConflictError {
  const words =
    allowed.length < 2
      ? (allowed[0] ?? '')
      : `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`;
  return new ConflictError(
    `Cannot ${action} plan ${id}: it is ${status} (allowed when it is ${words}).`,
    { code: 'plan_status', hint: `You can ${nextSteps[status].replaceAll('ID', id)}.` },
  );
}

/** `PUT /v1/plans/{id}/spec` with an `ifUpdatedAt` the plan has moved on from: nothing is lost. */
export function planChanged(id: string, updatedAt: string): ConflictError {
  return new ConflictError(
    `Plan ${id} changed since you read it (it was updated at ${updatedAt}).`,
    {
      code: 'plan_changed',
      hint: `Read it again (mags plan show ${id}) and make your edit on what it is now.`,
    },
  );
}

export function planTicketNotFound(plan: string, ticket: string): NotFoundError {
  return new NotFoundError(`Plan ${plan} has no ticket ${JSON.stringify(ticket)}.`, {
    code: 'plan_ticket_not_found',
    hint: `Name it by its key or its ticket id (mags plan show ${plan}).`,
  });
}

export function planEvidenceNotFound(plan: { id: string; status: PlanStatus }): NotFoundError {
  // A plan that will not move on by itself gets no `watch`: what it can do instead.
  const moving = ['planning', 'running', 'integrating'].includes(plan.status);
  const next = moving
    ? `follow it: mags plan watch ${plan.id}`
    : `you can ${nextSteps[plan.status].replaceAll('ID', plan.id)}`;
  return new NotFoundError(
    `Plan ${plan.id} has no evidence${plan.status === 'closed' ? '' : ' yet'}.`,
    {
      code: 'plan_evidence_not_found',
      hint: `It comes when every ticket is approved and the results are integrated; it is ${plan.status}: ${next}.`,
    },
  );
}

export function planBundleNotFound(plan: { id: string; status: PlanStatus }): NotFoundError {
  return new NotFoundError(`Plan ${plan.id} is not approved, so it has no bundle.`, {
    code: 'plan_bundle_not_found',
    hint:
      plan.status === 'awaiting_review'
        ? `Review it (mags plan evidence ${plan.id}), then approve it (mags plan approve ${plan.id}).`
        : `It is ${plan.status}.`,
  });
}
