import { runtimeAgentSandbox } from '../agents/runtime-agent-sandbox.ts';
import { type Budget, ticketStatuses } from '../api/tickets.ts';
import { ConflictError } from '../errors/mags-error.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { StateRepository, TicketRecord } from '../state/state-repository.ts';
import { verifyApprovedBundle } from './review/verify-approved-bundle.ts';
import { ensureTicketSandbox } from './ticket-attempt.ts';
import { allowedStatuses } from './ticket-errors.ts';
import type { TicketLock } from './ticket-lock.ts';
import type { TicketAgentParts, TicketProjects } from './ticket-parts.ts';
import type { TicketRecorder } from './ticket-recorder.ts';
import type { TicketSettings } from './ticket-settings.ts';

/** A step of stopping a ticket under its lock: stopped now, or an attempt to wait for. */
export type StopStep = { ticket: TicketRecord } | { wait: Promise<void> };

/** What the review actions need of their TicketManager. */
export interface ReviewServices {
  repository: StateRepository;
  sandboxes: SandboxManager;
  projects: TicketProjects;
  parts: TicketAgentParts;
  settings: TicketSettings;
  lock: TicketLock;
  recorder: TicketRecorder;
  log(line: string): void;
  /**
   * Queues the ticket's next attempt, writing `update` with the status; the caller holds its
   * lock and has checked its status.
   */
  queueAttempt(ticket: TicketRecord, update?: Partial<TicketRecord>): Promise<TicketRecord>;
  /** The project, role and model of a ticket about to be queued (a clear error if one is off). */
  checkRunnable(ticket: TicketRecord): Promise<void>;
  /** Stops a queued or running ticket; the caller holds its lock (`TicketQueue.stopLocked`). */
  stopLocked(
    ticket: TicketRecord,
    stoppedBy: string,
    options?: { skipEvidence?: boolean },
  ): Promise<StopStep>;
}

/**
 * Approves the result: a commit of the ticket's changes on `mags/<id>` made in its sandbox
 * (started for it, stopped after), stored as a bundle (what `mags ticket apply` fetches) and
 * brought into the project's repository as that branch. Holds the ticket's lock throughout: a
 * close or request-changes meanwhile waits, then finds it approved.
 */
export function approveTicket(
  services: ReviewServices,
  owner: string,
  id: string,
  options: { message?: string; authorName?: string; authorEmail?: string },
): Promise<TicketRecord> {
  const { repository, sandboxes, recorder, settings } = services;
  return services.lock.run(id, async () => {
    const ticket = await recorder.require(owner, id, 'approve', allowedStatuses.approve);
    if (!ticket.baseCommit || !ticket.workspace) {
      throw new ConflictError(`Ticket ${id} has no workspace to approve.`, {
        code: 'ticket_status',
        hint: `Run it first (mags ticket run ${id}).`,
      });
    }
    const project = await services.projects.get(owner, ticket.project);
    // What the reviewer saw: the latest evidence's tree is committed, not whatever is there now.
    const reviewed = await repository.getEvidence(id);
    const branch = `mags/${id}`;
    let committed: { commit: string; bundle: Buffer; reviewedCommit?: string | null };
    try {
      await ensureTicketSandbox(sandboxes, repository, ticket, project.network === true);
      const use = await sandboxes.use(owner, id);
      try {
        committed = await services.parts.commitApproved(runtimeAgentSandbox(use.sandbox), {
          baseCommit: ticket.baseCommit,
          branch,
          message: options.message ?? `${ticket.title}\n\n${ticket.request}\n\nTicket: ${id}\n`,
          authorName: options.authorName ?? settings.author.name,
          authorEmail: options.authorEmail ?? settings.author.email,
          tree: reviewed?.tree ?? null,
          setupTree: ticket.baseTree,
        });
      } finally {
        use.release();
      }
    } finally {
      // Nothing runs in it after this (a failed approval leaves it awaiting review, stopped).
      await sandboxes.stop(owner, id, 'its ticket was reviewed').catch((error: unknown) => {
        services.log(`ticket ${id}: its sandbox did not stop: ${(error as Error).message}`);
      });
    }
    // The sandbox was the agent's: what it returned is checked on the host (the bundle's refs)
    // and by git in the project's workspace (tree, parent) before anything is stored. The tree
    // is checked against the ids the host holds (the reviewed tree, the ticket's setup tree),
    // whatever the sandbox said it did.
    verifyApprovedBundle(committed.bundle, {
      branch,
      commit: committed.commit,
      baseCommit: ticket.baseCommit,
      reviewedCommit: committed.reviewedCommit ?? null,
    });
    await services.projects.importBranch(owner, ticket.project, {
      bundle: committed.bundle,
      branch,
      commit: committed.commit,
      baseCommit: ticket.baseCommit,
      tree: reviewed?.tree ?? null,
      setupTree: ticket.baseTree,
    });
    await repository.putTicketBundle(id, committed.bundle);
    return recorder.transition(ticket, 'approved', `approved as ${branch}`, {
      branch,
      commit: committed.commit,
    });
  });
}

/**
 * Sends a reviewed (or failed, or stopped) attempt back: a new attempt in the same workspace,
 * given the feedback and the previous attempts' history. The `changes_requested` status is an
 * event only: the record goes to `queued` in one step, so no crash leaves it waiting for an
 * attempt nobody queued. The feedback is the comment stored here (the attempt reads it back).
 */
export function requestTicketChanges(
  services: ReviewServices,
  owner: string,
  id: string,
  request: { author: string; text: string; budget?: Budget },
): Promise<TicketRecord> {
  const { recorder } = services;
  return services.lock.run(id, async () => {
    const ticket = await recorder.require(
      owner,
      id,
      'request changes on',
      allowedStatuses.requestChanges,
    );
    await services.checkRunnable(ticket); // before anything changes
    await recorder.emit(ticket, { type: 'comment', author: request.author, text: request.text });
    const reason = `changes requested by ${request.author}: ${request.text}`;
    await recorder.emit(ticket, {
      type: 'status',
      from: ticket.status,
      to: 'changes_requested',
      reason,
    });
    // A new budget goes with it: one the last attempt hit would end this one at its first step.
    return services.queueAttempt(
      { ...ticket, status: 'changes_requested', reason },
      withBudget(ticket, request.budget),
    );
  });
}

/**
 * Closes it (a queued or running one is stopped first without its evidence, its attempt waited
 * for outside the lock).
 * Its sandbox stops now; it and the workspace are deleted after the retention period.
 */
export async function closeTicket(
  services: ReviewServices,
  owner: string,
  id: string,
  by: string,
): Promise<TicketRecord> {
  const { recorder } = services;
  for (;;) {
    const step = await services.lock.run(id, async (): Promise<StopStep> => {
      let ticket = await recorder.require(owner, id, 'close', ticketStatuses);
      if (ticket.status === 'closed') return { ticket };
      if (ticket.status === 'queued' || ticket.status === 'running') {
        // Nobody reviews a closed ticket: its evidence is not assembled (or stops being).
        const stopped = await services.stopLocked(ticket, `stopped by ${by}: closing it`, {
          skipEvidence: true,
        });
        if ('wait' in stopped) return stopped;
        ticket = stopped.ticket;
      }
      const closed = await recorder.transition(ticket, 'closed', `closed by ${by}`);
      await services.sandboxes.stop(owner, id, 'its ticket was closed').catch(() => {});
      return { ticket: closed };
    });
    if ('ticket' in step) return step.ticket;
    await step.wait; // then close what it ended as
  }
}

/** The ticket's budget with `budget`'s limits over it, as an update (none without one). */
export function withBudget(
  ticket: TicketRecord,
  budget: Budget | undefined,
): Partial<TicketRecord> {
  return budget ? { budget: { ...ticket.budget, ...budget } } : {};
}
