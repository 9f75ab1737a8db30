import type { TicketStatus } from '../api/tickets.ts';
import { ConflictError, DependencyMissingError, NotFoundError } from '../errors/mags-error.ts';
import type { ProjectRecord } from '../state/state-repository.ts';

export function ticketNotFound(id: string): NotFoundError {
  return new NotFoundError(`No ticket ${JSON.stringify(id)}.`, {
    code: 'ticket_not_found',
    hint: 'mags ticket list shows yours.',
  });
}

/** A person's run of a plan's ticket that never ran: its plan starts it when it is ready. */
export function planTicketWaiting(id: string, plan: string): ConflictError {
  return new ConflictError(
    `Ticket ${id} is a ticket of plan ${plan}: the plan starts it once its dependencies are approved.`,
    {
      code: 'plan_ticket_waiting',
      hint: `mags plan show ${plan} says what it waits for; mags plan retry ${plan} ${id} runs a failed or stopped one again.`,
    },
  );
}

/** The statuses each action on a ticket is allowed in. */
export const allowedStatuses = {
  run: ['draft', 'failed', 'stopped'],
  requestChanges: ['awaiting_review', 'failed', 'stopped'],
  approve: ['awaiting_review'],
  stop: ['queued', 'running'],
  // Everything but approved and closed; changes_requested only in records of older servers.
  comment: [
    'draft',
    'queued',
    'running',
    'awaiting_review',
    'changes_requested',
    'failed',
    'stopped',
  ],
} satisfies Record<string, TicketStatus[]>;

/** What a person can do with a ticket in each status, for the hint of a refused action. */
const nextSteps: Record<TicketStatus, string> = {
  draft: 'run it (mags ticket run ID) or close it',
  queued: 'wait for it to start, or stop it (mags ticket stop ID)',
  running: 'watch it (mags ticket watch ID), comment, or stop it',
  awaiting_review: 'review it (mags ticket evidence ID), then approve, request changes or close it',
  approved: 'apply it in your checkout (mags ticket apply ID), or close it',
  changes_requested: 'wait for the next attempt to start',
  closed: 'create a new ticket',
  failed: 'run it again (mags ticket run ID), request changes, or close it',
  stopped: 'run it again (mags ticket run ID), request changes, or close it',
};

/** An action the ticket's status does not allow: a 409 saying what it allows instead. */
export function wrongStatus(
  id: string,
  action: string,
  status: TicketStatus,
  allowed: readonly TicketStatus[],
): ConflictError {
  return new ConflictError(
    `Cannot ${action} ticket ${id}: it is ${status} (allowed when it is ${listWords(allowed)}).`,
    { code: 'ticket_status', hint: `You can ${nextSteps[status].replaceAll('ID', id)}.` },
  );
}

/** `a`, `a or b`, `a, b or c`. */
function listWords(words: readonly string[]): string {
  return words.length < 2
    ? (words[0] ?? '')
    : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

export function evidenceNotFound(
  ticket: { id: string; status: TicketStatus },
  attempt: number | undefined,
): NotFoundError {
  const { id } = ticket;
  return new NotFoundError(
    attempt === undefined
      ? `Ticket ${id} has no evidence yet.`
      : `Ticket ${id} has no evidence of attempt ${attempt}.`,
    {
      code: 'evidence_not_found',
      hint:
        ticket.status === 'draft'
          ? `It comes when an attempt ends: run it first (mags ticket run ${id}).`
          : `It comes when an attempt ends (mags ticket watch ${id}).`,
    },
  );
}

export function bundleNotFound(ticket: { id: string; status: TicketStatus }): NotFoundError {
  return new NotFoundError(`Ticket ${ticket.id} is not approved, so it has no bundle.`, {
    code: 'bundle_not_found',
    hint:
      ticket.status === 'awaiting_review'
        ? `Review it, then approve it (mags ticket approve ${ticket.id}).`
        : `It is ${ticket.status}.`,
  });
}

/**
 * A run, approval or request-changes while the server shuts down: a 503 (the class the SDK makes
 * of one) to try again later.
 */
export function serverShuttingDown(action: string): DependencyMissingError {
  return new DependencyMissingError(`Cannot ${action} now: the server is shutting down.`, {
    code: 'server_shutting_down',
    retryable: true,
    hint: 'Try again once it is back (queued tickets wait for it).',
  });
}

/** An action on a ticket of a project being deleted. */
export function projectBeingDeleted(project: string): ConflictError {
  return new ConflictError(`Project ${project} is being deleted, with its tickets.`, {
    code: 'project_deleting',
    hint: `mags project show ${project} says whether it is gone.`,
  });
}

/**
 * A ticket cannot start work on a project that is not `ready` (its import or setup failed, or is
 * still going): its workspace could not be forked. Said when it is queued, not when its attempt
 * fails later; `then` is what to do once the project is ready.
 */
export function checkProjectReady(project: ProjectRecord, then: string): void {
  if (project.status === 'ready' && project.commit !== null) return;
  const { name, status } = project;
  throw new ConflictError(
    `Project ${name} is not ready (${status}): its tickets cannot run until it is.`,
    {
      code: 'project_not_ready',
      hint:
        status === 'importing'
          ? `Wait for its import to finish (mags project show ${name}; if it failed, mags project refresh ${name}), then ${then}.`
          : `mags project show ${name} says why; fix that and run mags project refresh ${name}, then ${then}.`,
    },
  );
}
