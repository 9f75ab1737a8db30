import { runtimeAgentSandbox } from '../agents/runtime-agent-sandbox.ts';
import type {
  CreateTicketBody,
  Evidence,
  TicketEvent,
  TicketEventData,
  TicketStatus,
} from '../api/tickets.ts';
import { currentServerInstance, type ServerInstance } from '../config/server-instance.ts';
import { ConflictError, NotFoundError } from '../errors/mags-error.ts';
import { FairQueue, type Ticket as QueueSlot } from '../jobs/fair-queue.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { StateRepository, TicketFilter, TicketRecord } from '../state/state-repository.ts';
import type { WorkspaceManager } from '../workspaces/workspace-manager.ts';
import { followTicketEvents } from './follow-ticket-events.ts';
import { newTicketRecord, resolveTicketChoices } from './new-ticket.ts';
import { recoverTickets } from './recover-tickets.ts';
import {
  type AttemptControl,
  type AttemptServices,
  ensureTicketSandbox,
  runTicketAttempt,
} from './ticket-attempt.ts';
import { ticketNotFound, wrongStatus } from './ticket-errors.ts';
import { TicketEventLog } from './ticket-event-log.ts';
import type { TicketAgentParts, TicketProjects } from './ticket-parts.ts';
import { sweepClosedTickets } from './ticket-retention.ts';
import { type TicketSettings, ticketSettings } from './ticket-settings.ts';

export interface TicketManagerOptions {
  repository: StateRepository;
  /** The tickets' long-lived sandboxes live here, beside the owner's own. */
  sandboxes: SandboxManager;
  projects: TicketProjects;
  parts: TicketAgentParts;
  /** Deletes a closed ticket's workspace after its retention. */
  workspaces?: Pick<WorkspaceManager, 'delete'>;
  settings?: Partial<TicketSettings>;
  /** Where MAGS_DEFAULT_MODEL and the providers' keys are read (default process.env). */
  environment?: NodeJS.ProcessEnv;
  instance?: ServerInstance;
  log?: (line: string) => void;
}

/** A ticket queued or running in this process. */
interface ActiveTicket {
  control: AttemptControl;
  slot: QueueSlot;
  started: boolean;
  done: Promise<void>;
  finish(): void;
}

const allowed = {
  run: ['draft', 'failed', 'stopped'],
  requestChanges: ['awaiting_review', 'failed', 'stopped'],
  approve: ['awaiting_review'],
  stop: ['queued', 'running'],
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

/**
 * Tickets (GUIDE §5): created as drafts or queued, run by an agent one attempt at a time in their
 * own sandbox on their own fork of the project workspace (a queue with a limit per server and per
 * owner), every step stored as an event and streamed, evidence assembled by the platform after
 * each attempt, then reviewed: approved into a branch, sent back with changes requested, or
 * closed. Another owner's ticket is a 404, like a missing one.
 */
export class TicketManager {
  readonly settings: TicketSettings;
  readonly #repository: StateRepository;
  readonly #sandboxes: SandboxManager;
  readonly #projects: TicketProjects;
  readonly #parts: TicketAgentParts;
  readonly #workspaces: Pick<WorkspaceManager, 'delete'> | undefined;
  readonly #environment: NodeJS.ProcessEnv;
  readonly #instance: ServerInstance;
  readonly #log: (line: string) => void;
  readonly #events: TicketEventLog;
  readonly #queue: FairQueue;
  readonly #active = new Map<string, ActiveTicket>();
  /** Tickets with a review action under way (approve), so two never overlap. */
  readonly #busy = new Set<string>();
  readonly #services: AttemptServices;
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: TicketManagerOptions) {
    this.#repository = options.repository;
    this.#sandboxes = options.sandboxes;
    this.#projects = options.projects;
    this.#parts = options.parts;
    this.#workspaces = options.workspaces;
    this.#environment = options.environment ?? process.env;
    this.settings = ticketSettings(options.settings, this.#environment);
    this.#instance = options.instance ?? currentServerInstance();
    this.#log = options.log ?? ((line) => process.stderr.write(`mags server: ${line}\n`));
    this.#events = new TicketEventLog(options.repository);
    this.#queue = new FairQueue({
      limit: this.settings.maxRunning,
      perOwnerActive: this.settings.maxRunningPerOwner,
      // A ticket waits as `queued` as long as it takes; none is refused for waiting.
      perOwnerWaiting: Number.POSITIVE_INFINITY,
    });
    this.#services = {
      repository: this.#repository,
      sandboxes: this.#sandboxes,
      projects: this.#projects,
      parts: this.#parts,
      settings: this.settings,
      environment: this.#environment,
      emit: async (ticket, data) => {
        await this.#emit(ticket, data);
      },
      transition: (ticket, to, reason, update) => this.#transition(ticket, to, reason, update),
    };
  }

  /**
   * A new ticket of the owner's project: a draft, or queued with `run`. The project, the role and
   * the model (its provider and key) are checked first; on any error nothing is stored.
   */
  async create(owner: string, body: CreateTicketBody): Promise<TicketRecord> {
    const project = await this.#projects.get(owner, body.project);
    const record = newTicketRecord(owner, body, this.settings);
    resolveTicketChoices(record, project, this.#parts, this.settings, this.#environment);
    await this.#repository.insertTicket(record);
    await this.#emit(record, { type: 'status', from: null, to: 'draft', reason: null });
    if (!body.run) return record;
    return this.#queueAttempt(record, {});
  }

  list(owner: string, filter: Omit<TicketFilter, 'owner'> = {}): Promise<TicketRecord[]> {
    return this.#repository.listTickets({ owner, ...filter });
  }

  async get(owner: string, id: string): Promise<TicketRecord> {
    const record = await this.#repository.getTicket(owner, id);
    if (!record) throw ticketNotFound(id);
    return record;
  }

  /** Queues the next attempt of a draft, failed or stopped ticket. */
  async run(owner: string, id: string): Promise<TicketRecord> {
    const ticket = await this.#require(owner, id, 'run', allowed.run);
    return this.#queueAttempt(ticket, {});
  }

  /**
   * Stops a queued or running ticket: a running agent is aborted and the evidence of what it did
   * is still assembled. Resolves once it has stopped. Stopping a stopped ticket changes nothing.
   */
  async stop(
    owner: string,
    id: string,
    options: { by: string; reason?: string },
  ): Promise<TicketRecord> {
    const ticket = await this.get(owner, id);
    if (ticket.status === 'stopped') return ticket;
    if (!allowed.stop.includes(ticket.status as 'queued')) {
      throw wrongStatus(id, 'stop', ticket.status, allowed.stop);
    }
    const stoppedBy = `stopped by ${options.by}${options.reason ? `: ${options.reason}` : ''}`;
    const active = this.#active.get(id);
    if (active) {
      active.control.stoppedBy = stoppedBy;
      active.control.abort.abort();
      if (!active.started) this.#leaveQueue(id, active);
      else {
        await active.done;
        return this.get(owner, id);
      }
    }
    // Queued here, or queued or running in no live process (its server is gone): nothing runs.
    return this.#transition(ticket, 'stopped', stoppedBy);
  }

  /**
   * A person's comment: stored as an event; a queued or running agent reads it at its next step.
   * A closed or approved ticket takes no more comments.
   */
  async comment(
    owner: string,
    id: string,
    comment: { author: string; text: string },
  ): Promise<TicketEvent> {
    const ticket = await this.#require(owner, id, 'comment on', allowed.comment);
    const event = await this.#emit(ticket, { type: 'comment', ...comment });
    this.#active.get(id)?.control.comments.push(comment.text);
    return event;
  }

  /**
   * Sends a reviewed (or failed, or stopped) attempt back: a new attempt in the same workspace,
   * given the feedback and the previous attempts' history.
   */
  async requestChanges(
    owner: string,
    id: string,
    request: { author: string; text: string },
  ): Promise<TicketRecord> {
    const ticket = await this.#require(owner, id, 'request changes on', allowed.requestChanges);
    await this.#checkRunnable(ticket); // before anything changes
    await this.#emit(ticket, { type: 'comment', ...request });
    const sent = await this.#transition(
      ticket,
      'changes_requested',
      `changes requested by ${request.author}: ${request.text}`,
    );
    return this.#queueAttempt(sent, { feedback: request.text });
  }

  /**
   * Approves the result: a commit of the ticket's changes on `mags/<id>` made in its sandbox,
   * stored as a bundle (what `mags ticket apply` fetches) and brought into the project's
   * repository as that branch.
   */
  async approve(
    owner: string,
    id: string,
    options: { message?: string; authorName?: string; authorEmail?: string } = {},
  ): Promise<TicketRecord> {
    const ticket = await this.#require(owner, id, 'approve', allowed.approve);
    if (this.#busy.has(id)) {
      throw new ConflictError(`Ticket ${id} is being approved already.`, {
        code: 'ticket_busy',
        hint: `Wait for it (mags ticket show ${id}).`,
      });
    }
    if (!ticket.baseCommit || !ticket.workspace) {
      throw new ConflictError(`Ticket ${id} has no workspace to approve.`, {
        code: 'ticket_status',
        hint: `Run it first (mags ticket run ${id}).`,
      });
    }
    this.#busy.add(id);
    try {
      const project = await this.#projects.get(owner, ticket.project);
      await ensureTicketSandbox(
        this.#sandboxes,
        this.#repository,
        ticket,
        project.network === true,
      );
      const use = await this.#sandboxes.use(owner, id);
      const branch = `mags/${id}`;
      let committed: { commit: string; bundle: Buffer };
      try {
        committed = await this.#parts.commitApproved(runtimeAgentSandbox(use.sandbox), {
          baseCommit: ticket.baseCommit,
          branch,
          message: options.message ?? `${ticket.title}\n\n${ticket.request}\n\nTicket: ${id}\n`,
          authorName: options.authorName ?? this.settings.author.name,
          authorEmail: options.authorEmail ?? this.settings.author.email,
        });
      } finally {
        use.release();
      }
      await this.#repository.putTicketBundle(id, committed.bundle);
      await this.#projects.importBranch(owner, ticket.project, {
        bundle: committed.bundle,
        branch,
      });
      return await this.#transition(ticket, 'approved', `approved as ${branch}`, {
        branch,
        commit: committed.commit,
      });
    } finally {
      this.#busy.delete(id);
    }
  }

  /**
   * Closes it (a queued or running one is stopped first). Its sandbox stops now; it and the
   * workspace are deleted after the retention period (`sweepClosed`).
   */
  async close(owner: string, id: string, options: { by: string }): Promise<TicketRecord> {
    let ticket = await this.get(owner, id);
    if (ticket.status === 'closed') return ticket;
    if (ticket.status === 'queued' || ticket.status === 'running') {
      ticket = await this.stop(owner, id, { by: options.by, reason: 'closing it' });
    }
    const closed = await this.#transition(ticket, 'closed', `closed by ${options.by}`);
    await this.#sandboxes.stop(owner, id, 'its ticket was closed').catch(() => {});
    return closed;
  }

  /** The ticket's events after `after`; with `follow`, until it is neither queued nor running. */
  async *events(
    owner: string,
    id: string,
    options: { after?: number; follow?: boolean; signal?: AbortSignal } = {},
  ): AsyncGenerator<TicketEvent> {
    await this.get(owner, id);
    yield* followTicketEvents(this.#repository, this.#events, { owner, id }, options);
  }

  /** The evidence of an attempt (the latest by default). */
  async evidence(owner: string, id: string, attempt?: number): Promise<Evidence> {
    await this.get(owner, id);
    const evidence = await this.#repository.getEvidence(id, attempt);
    if (evidence) return evidence;
    throw new NotFoundError(
      attempt === undefined
        ? `Ticket ${id} has no evidence yet.`
        : `Ticket ${id} has no evidence of attempt ${attempt}.`,
      {
        code: 'evidence_not_found',
        hint: `It comes when an attempt ends (mags ticket watch ${id}).`,
      },
    );
  }

  /** The approved result as a git bundle. */
  async bundle(owner: string, id: string): Promise<Buffer> {
    const ticket = await this.get(owner, id);
    const bundle = await this.#repository.getTicketBundle(id);
    if (bundle) return bundle;
    throw new NotFoundError(`Ticket ${id} is not approved, so it has no bundle.`, {
      code: 'bundle_not_found',
      hint:
        ticket.status === 'awaiting_review'
          ? `Review it, then approve it (mags ticket approve ${id}).`
          : `It is ${ticket.status}.`,
    });
  }

  /** Resolves when the ticket is queued or running in this process no more. */
  async wait(owner: string, id: string): Promise<TicketRecord> {
    await this.#active.get(id)?.done;
    return this.get(owner, id);
  }

  /**
   * Takes up the tickets this host's gone server processes left: queued ones are queued here,
   * running ones fail (an agent's conversation is not durable mid-step). Call once at start.
   */
  async recover(): Promise<{ queued: number; failed: number }> {
    return recoverTickets({
      repository: this.#repository,
      instance: this.#instance,
      queue: (ticket) => this.#schedule(ticket, newControl({})),
      transition: (ticket, to, reason, update) => this.#transition(ticket, to, reason, update),
      log: this.#log,
    });
  }

  /** Starts the periodic sweep of closed tickets past their retention (now, then every so often). */
  start(): void {
    if (this.#sweepTimer) return;
    const sweep = () => {
      this.sweepClosed().catch((error: unknown) => {
        this.#log(`sweeping closed tickets failed: ${(error as Error).message}`);
      });
    };
    sweep();
    this.#sweepTimer = setInterval(sweep, this.settings.sweepEveryMs);
    this.#sweepTimer.unref();
  }

  /** Deletes the sandboxes and workspaces of tickets closed longer ago than the retention. */
  sweepClosed(now = Date.now()): Promise<number> {
    return sweepClosedTickets({
      repository: this.#repository,
      sandboxes: this.#sandboxes,
      workspaces: this.#workspaces,
      host: this.#instance.host,
      retentionMs: this.settings.closedRetentionMs,
      now,
    });
  }

  /**
   * The server is going away: running agents are aborted and their tickets fail with the reason
   * (no evidence); queued ones stay queued for the next server process.
   */
  async shutdown(): Promise<void> {
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    const running: Promise<void>[] = [];
    for (const [id, active] of this.#active) {
      active.control.shutdown = true;
      active.control.abort.abort();
      if (active.started) running.push(active.done);
      else this.#leaveQueue(id, active);
    }
    await Promise.all(running);
  }

  async #require(
    owner: string,
    id: string,
    action: string,
    statuses: readonly TicketStatus[],
  ): Promise<TicketRecord> {
    const ticket = await this.get(owner, id);
    if (!statuses.includes(ticket.status)) throw wrongStatus(id, action, ticket.status, statuses);
    return ticket;
  }

  /** The project, role and model of a ticket about to be queued (a clear error if one is off). */
  async #checkRunnable(ticket: TicketRecord): Promise<void> {
    const project = await this.#projects.get(ticket.owner, ticket.project);
    resolveTicketChoices(ticket, project, this.#parts, this.settings, this.#environment);
  }

  async #queueAttempt(ticket: TicketRecord, options: { feedback?: string }): Promise<TicketRecord> {
    await this.#checkRunnable(ticket);
    const queued = await this.#transition(ticket, 'queued', null, {
      attempt: ticket.attempt + 1,
      host: this.#instance.host,
      server: this.#instance.server,
    });
    this.#schedule(queued, newControl(options));
    return queued;
  }

  /** Waits for a slot in the queue, then runs the attempt. */
  #schedule(ticket: TicketRecord, control: AttemptControl): void {
    const slot = this.#queue.enqueue(ticket.owner);
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const active: ActiveTicket = { control, slot, started: false, done, finish };
    this.#active.set(ticket.id, active);
    void slot.granted.then(async () => {
      if (control.abort.signal.aborted) return; // stopped while queued: stop did the rest
      active.started = true;
      try {
        const current = await this.#repository.getTicket(ticket.owner, ticket.id);
        if (current?.status === 'queued') {
          await runTicketAttempt(this.#services, current, control);
        }
      } catch (error) {
        this.#log(`ticket ${ticket.id}: ${(error as Error).message}`);
      } finally {
        slot.release();
        if (this.#active.get(ticket.id) === active) this.#active.delete(ticket.id);
        finish();
      }
    });
  }

  #leaveQueue(id: string, active: ActiveTicket): void {
    active.slot.release();
    if (this.#active.get(id) === active) this.#active.delete(id);
    active.finish();
  }

  /** Stores the event in order and announces it; a `usage` event also moves the ticket's totals. */
  #emit(ticket: TicketRecord, data: TicketEventData): Promise<TicketEvent> {
    const stored = this.#events.append(ticket.id, ticket.attempt, data);
    if (data.type !== 'usage') return stored;
    return stored.then(async (event) => {
      await this.#repository.updateTicket(ticket.id, { usage: data.total });
      return event;
    });
  }

  /**
   * A status change: its event first, then the record (a follower that sees the record changed
   * has the event already). Returns the updated record.
   */
  async #transition(
    ticket: TicketRecord,
    to: TicketStatus,
    reason: string | null,
    update: Partial<TicketRecord> = {},
  ): Promise<TicketRecord> {
    const next: TicketRecord = {
      ...ticket,
      ...update,
      status: to,
      reason,
      updatedAt: new Date().toISOString(),
    };
    await this.#emit(next, { type: 'status', from: ticket.status, to, reason });
    await this.#repository.updateTicket(ticket.id, {
      ...update,
      status: to,
      reason,
      updatedAt: next.updatedAt,
    });
    this.#events.touch(ticket.id);
    return next;
  }
}

function newControl(options: { feedback?: string }): AttemptControl {
  return {
    abort: new AbortController(),
    shutdown: false,
    comments: [],
    ...(options.feedback ? { feedback: options.feedback } : {}),
  };
}
