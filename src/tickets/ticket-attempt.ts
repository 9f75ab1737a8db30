import { randomUUID } from 'node:crypto';
import type { AgentOutcome, AgentSession, AgentTask } from '../agents/agent.ts';
import { runtimeAgentSandbox } from '../agents/runtime-agent-sandbox.ts';
import { addUsage, noUsage } from '../agents/token-usage.ts';
import type { Evidence, TicketEvent, TicketEventData, TicketStatus } from '../api/tickets.ts';
import { NotFoundError } from '../errors/mags-error.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { SandboxUse } from '../sandboxes/sandbox-use.ts';
import type { ProjectRecord, StateRepository, TicketRecord } from '../state/state-repository.ts';
import { attemptTimeline } from './attempt-timeline.ts';
import { CommentDelivery } from './comment-delivery.ts';
import { resolveTicketChoices, type TicketChoices } from './new-ticket.ts';
import { reviewReason } from './review-reason.ts';
import type { TicketAgentParts, TicketProjects } from './ticket-parts.ts';
import type { TicketSettings } from './ticket-settings.ts';
import type { PendingComment } from './unseen-comments.ts';

/** Why a ticket that was running when its server went away (or shut down) failed. */
export const serverStoppedReason = 'the server stopped while the agent ran; run it again';

/** What a running attempt is steered by: a person's stop and comments, the server's shutdown. */
export interface AttemptControl {
  /** Aborts the agent (`haltAttempt`). */
  readonly abort: AbortController;
  /**
   * Set while the evidence is assembled: a stop or shutdown then ends that too. A stop during
   * the agent's work does not skip the evidence: what the agent did is still checked.
   */
  evidence?: AbortController;
  /** Who stopped it and why, in words ("stopped by alice: wrong approach"). */
  stoppedBy?: string;
  /** Stopped to be closed: no evidence is assembled (nobody will review it). */
  skipEvidence?: boolean;
  /** The server is shutting down: no evidence, the ticket fails with `serverStoppedReason`. */
  shutdown: boolean;
  /** Comments not yet taken by the agent, oldest first (from the log at start, then live). */
  readonly comments: PendingComment[];
  /** A reviewer's request-changes text that starts this attempt. */
  feedback?: PendingComment;
}

export function newAttemptControl(): AttemptControl {
  return { abort: new AbortController(), shutdown: false, comments: [] };
}

/** Stops the attempt: a person's stop (`stoppedBy`) or the server's shutdown. */
export function haltAttempt(
  control: AttemptControl,
  why: { stoppedBy: string; skipEvidence?: boolean } | { shutdown: true },
): void {
  if ('shutdown' in why) control.shutdown = true;
  else {
    control.stoppedBy = why.stoppedBy;
    if (why.skipEvidence) control.skipEvidence = true;
  }
  control.abort.abort();
  control.evidence?.abort();
}

/** What an attempt needs of its TicketManager. */
export interface AttemptServices {
  repository: StateRepository;
  sandboxes: SandboxManager;
  projects: TicketProjects;
  parts: TicketAgentParts;
  settings: TicketSettings;
  environment: NodeJS.ProcessEnv;
  log(line: string): void;
  /** Stores the event (in order) and announces it; model text is stored shortly after. */
  emit(ticket: TicketRecord, data: TicketEventData): Promise<void>;
  /** Every event of the ticket stored so far. */
  allEvents(id: string): Promise<TicketEvent[]>;
  /** The attempt's end: `running` → `to` under the ticket's lock. Returns the updated record. */
  finish(ticket: TicketRecord, to: TicketStatus, reason: string): Promise<TicketRecord>;
}

/** How an attempt ends. */
interface AttemptEnd {
  to: TicketStatus;
  reason: string;
}

/**
 * One attempt of a ticket the queue has just moved to `running`, to its end: the ticket's own
 * workspace (forked from the project's on the first attempt), its long-lived sandbox (named like
 * the ticket, so its owner can `mags exec`/`mags shell` into it while it runs), the agent, then
 * the platform's evidence and the status it leads to. Never throws: whatever goes wrong ends the
 * attempt `failed` with the reason.
 */
export async function runTicketAttempt(
  services: AttemptServices,
  running: TicketRecord,
  control: AttemptControl,
): Promise<TicketRecord> {
  const end = await work(services, running, control);
  // The sandbox stops before the status says the attempt is over, so that it holds none of the
  // owner's sandboxes while the ticket waits for review; approving or the next attempt starts it
  // again (`ensureTicketSandbox`). On a shutdown too: a server that detaches leaves its sandboxes
  // running for the next one, and nothing would ever stop a failed ticket's.
  await stopTicketSandbox(services, running, 'its ticket attempt ended');
  return services.finish(running, end.to, end.reason);
}

/** Stops the ticket's sandbox if it runs (one that never started is fine); logs a failure. */
export async function stopTicketSandbox(
  services: Pick<AttemptServices, 'sandboxes' | 'log'>,
  ticket: Pick<TicketRecord, 'owner' | 'id'>,
  reason: string,
): Promise<void> {
  await services.sandboxes.stop(ticket.owner, ticket.id, reason).catch((error: unknown) => {
    if (error instanceof NotFoundError) return;
    services.log(`ticket ${ticket.id}: its sandbox did not stop: ${(error as Error).message}`);
  });
}

async function work(
  services: AttemptServices,
  running: TicketRecord,
  control: AttemptControl,
): Promise<AttemptEnd> {
  const { repository, sandboxes, projects, parts, settings } = services;
  const startedAt = running.updatedAt;
  let ticket = running;
  const fail = (reason: string): AttemptEnd => ({ to: 'failed', reason });

  let project: ProjectRecord;
  let choices: TicketChoices;
  try {
    project = await projects.get(ticket.owner, ticket.project);
    choices = resolveTicketChoices(ticket, project, parts, settings, services.environment);
  } catch (error) {
    return fail((error as Error).message);
  }
  if (!ticket.workspace) {
    try {
      // Waits for a refresh of the project, but not past a stop or a shutdown.
      const forked = await projects.forkForTicket(
        ticket.owner,
        ticket.project,
        `${ticket.id}-${randomUUID()}`,
        { signal: control.abort.signal },
      );
      ticket = {
        ...ticket,
        workspace: forked.workspace,
        baseCommit: forked.commit,
        baseTree: forked.tree,
      };
      await repository.updateTicket(ticket.id, {
        workspace: forked.workspace,
        baseCommit: forked.commit,
        baseTree: forked.tree,
      });
    } catch (error) {
      if (control.abort.signal.aborted) return endOf(control, null);
      return fail(`could not fork the project workspace: ${(error as Error).message}`);
    }
  }
  try {
    await ensureTicketSandbox(sandboxes, repository, ticket, project.network === true);
  } catch (error) {
    return fail(`the sandbox could not start: ${(error as Error).message}`);
  }
  if (control.abort.signal.aborted) return endOf(control, null);
  let use: SandboxUse;
  try {
    use = await sandboxes.use(ticket.owner, ticket.id);
  } catch (error) {
    return fail(`the sandbox could not start: ${(error as Error).message}`);
  }
  try {
    const sandbox = runtimeAgentSandbox(use.sandbox);
    const ran = await runAgent(services, ticket, control, choices, project, sandbox);
    const { commentsDeliveredThrough } = ran;
    const outcome = withStopReason(ran.outcome, control);
    const usage = addUsage(ticket.usage, outcome.usage);
    ticket = { ...ticket, usage, history: outcome.history, commentsDeliveredThrough };
    await repository.updateTicket(ticket.id, {
      usage,
      history: outcome.history,
      commentsDeliveredThrough,
    });
    if (control.shutdown || control.skipEvidence) return endOf(control, null);
    const evidenceStop = new AbortController();
    control.evidence = evidenceStop;
    let evidence: Evidence | null = null;
    try {
      const assembled = await parts.assembleEvidence({
        sandbox,
        ticket,
        test: project.test,
        outcome,
        startedAt,
        emit: (data) => services.emit(ticket, data),
        timeouts: settings.evidenceTimeouts,
        signal: evidenceStop.signal,
      });
      const timeline = attemptTimeline(await services.allEvents(ticket.id), ticket.attempt);
      evidence = { ...assembled, timeline };
      await repository.putEvidence(evidence);
    } catch (error) {
      // Stopped while assembling it: the ticket is stopped, not failed.
      if (!evidenceStop.signal.aborted) {
        return fail(`the evidence could not be assembled: ${(error as Error).message}`);
      }
    } finally {
      control.evidence = undefined;
    }
    return endOf(control, { outcome, evidence });
  } finally {
    use.release();
  }
}

/** The ticket's sandbox, running: made on its workspace the first time, started if stopped. */
export async function ensureTicketSandbox(
  sandboxes: SandboxManager,
  repository: StateRepository,
  ticket: TicketRecord,
  network: boolean,
): Promise<void> {
  const existing = await repository.getSandbox(ticket.owner, ticket.id);
  if (!existing) {
    // No network unless the project asks for it (GUIDE §2b).
    await sandboxes.create(ticket.owner, {
      name: ticket.id,
      workspace: ticket.workspace ?? undefined,
      network,
    });
  } else if (existing.status === 'stopped') {
    await sandboxes.start(ticket.owner, ticket.id);
  }
}

async function runAgent(
  services: AttemptServices,
  ticket: TicketRecord,
  control: AttemptControl,
  choices: TicketChoices,
  project: ProjectRecord,
  sandbox: ReturnType<typeof runtimeAgentSandbox>,
): Promise<{ outcome: AgentOutcome; commentsDeliveredThrough: number }> {
  const { settings } = services;
  const task: AgentTask = {
    ticket: {
      id: ticket.id,
      title: ticket.title,
      request: ticket.request,
      criteria: ticket.criteria,
    },
    project: { name: project.name, test: project.test },
    role: {
      name: choices.role.name,
      systemPrompt: choices.role.systemPrompt,
      tools: choices.role.tools,
    },
    model: choices.model,
    budget: { ...settings.budget, ...ticket.budget },
    history: ticket.history,
    ...(control.feedback ? { feedback: control.feedback.text } : {}),
    usageSoFar: ticket.usage,
    prices: { ...settings.prices, ...project.config.prices },
    environment: services.environment,
  };
  // Which comments are in the history is stored with it, so the next attempt is given exactly
  // the others (`unseenComments`).
  const delivery = new CommentDelivery(
    control.comments,
    ticket.commentsDeliveredThrough ?? 0,
    control.feedback,
  );
  let saved = { history: ticket.history, through: ticket.commentsDeliveredThrough ?? 0 };
  const session: AgentSession = {
    sandbox,
    emit: (data: TicketEventData) => services.emit(ticket, data),
    takeComments: () => delivery.take(),
    signal: control.abort.signal,
    // After each step, so a restart's next attempt continues from the last step, not the start.
    saveHistory: async (history: unknown[]) => {
      const through = delivery.through();
      await services.repository.updateTicket(ticket.id, {
        history,
        commentsDeliveredThrough: through,
      });
      saved = { history, through };
    },
  };
  try {
    const outcome = await services.parts.agent.run(task, session);
    return { outcome, commentsDeliveredThrough: delivery.through() };
  } catch (error) {
    // An agent should end with an outcome; one that throws is treated as the provider failing,
    // unless it was being stopped. It continues from the last history it saved.
    const stopped = control.abort.signal.aborted;
    return {
      outcome: {
        reason: stopped ? 'stopped' : 'provider_error',
        message: stopped ? 'stopped' : `the agent failed: ${(error as Error).message}`,
        usage: noUsage,
        history: saved.history,
      },
      commentsDeliveredThrough: saved.through,
    };
  }
}

/**
 * An agent stopped by a person knows only that it was stopped: the evidence says who stopped it
 * and why, as the ticket's reason does.
 */
function withStopReason(outcome: AgentOutcome, control: AttemptControl): AgentOutcome {
  if (outcome.reason !== 'stopped' || !control.stoppedBy) return outcome;
  return { ...outcome, message: control.stoppedBy };
}

/** The status an attempt ends in, with its reason in words. */
function endOf(
  control: AttemptControl,
  result: { outcome: AgentOutcome; evidence: Evidence | null } | null,
): AttemptEnd {
  if (control.shutdown) return { to: 'failed', reason: serverStoppedReason };
  if (!result || control.stoppedBy || result.outcome.reason === 'stopped' || !result.evidence) {
    return {
      to: 'stopped',
      reason: control.stoppedBy ?? result?.outcome.message ?? 'stopped',
    };
  }
  const { outcome, evidence } = result;
  if (outcome.reason === 'provider_error') return { to: 'failed', reason: outcome.message };
  return { to: 'awaiting_review', reason: reviewReason(outcome, evidence) };
}
