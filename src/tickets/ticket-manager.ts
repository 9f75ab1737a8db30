import { checkModelProvider } from '../agents/resolve-model.ts';
import type { Budget, CreateTicketBody, Evidence, TicketEvent } from '../api/tickets.ts';
import { currentServerInstance, type ServerInstance } from '../config/server-instance.ts';
import type { SandboxManager } from '../sandboxes/sandbox-manager.ts';
import type { StateRepository, TicketFilter, TicketRecord } from '../state/state-repository.ts';
import type { WorkspaceManager } from '../workspaces/workspace-manager.ts';
import { followTicketEvents } from './follow-ticket-events.ts';
import { newTicketRecord, resolveTicketChoices } from './new-ticket.ts';
import { recoverTickets } from './recover-tickets.ts';
import { TicketActions } from './ticket-actions.ts';
import {
  allowedStatuses,
  bundleNotFound,
  checkProjectReady,
  evidenceNotFound,
  planTicketWaiting,
  ticketNotFound,
  wrongStatus,
} from './ticket-errors.ts';
import { type TicketEventListener, TicketEventLog } from './ticket-event-log.ts';
import { TicketLock } from './ticket-lock.ts';
import type { TicketAgentParts, TicketProjects } from './ticket-parts.ts';
import { TicketQueue } from './ticket-queue.ts';
import { TicketRecorder } from './ticket-recorder.ts';
import { ClosedTicketSweeper } from './ticket-retention.ts';
import {
  approveTicket,
  closeTicket,
  type ReviewServices,
  requestTicketChanges,
  type StopStep,
  withBudget,
} from './ticket-review.ts';
import { type TicketSettings, ticketSettings } from './ticket-settings.ts';

/** A workspace a ticket starts from instead of a fork of its project (a plan's `MergedWorkspace`). */
export interface TicketStart {
  workspace: string;
  /** Its `baseCommit`. */
  commit: string;
  /** Its `baseTree` (null: the commit's). */
  tree: string | null;
}

export interface TicketManagerOptions {
  repository: StateRepository;
  /** The tickets' long-lived sandboxes live here, beside the owner's own. */
  sandboxes: SandboxManager;
  projects: TicketProjects;
  parts: TicketAgentParts;
  /** Deletes a closed ticket's workspace after its retention. */
  workspaces?: Pick<WorkspaceManager, 'delete'>;
  settings?: Partial<TicketSettings>;
  /**
   * Where MAGS_DEFAULT_MODEL, the MAGS_TICKET_* settings and the providers' keys are read
   * (default process.env); a bad setting throws here, at the server's start.
   */
  environment?: NodeJS.ProcessEnv;
  instance?: ServerInstance;
  log?: (line: string) => void;
}

/**
 * Tickets (GUIDE §5): created as drafts or queued, run by an agent one attempt at a time in their
 * own sandbox on their own fork of the project workspace (a queue with a limit per server and per
 * owner), every step stored as an event and streamed, evidence assembled by the platform after
 * each attempt, then reviewed: approved into a branch, sent back with changes requested, or
 * closed. Another owner's ticket is a 404, like a missing one.
 *
 * Every change of a ticket's status is made under its lock (`TicketLock`) after reading the
 * status it changes from, so two actions on one ticket never both act: a second `run` of a queued
 * ticket is a 409 (`ticket_status`: it is queued), not a second attempt.
 */
export class TicketManager {
  readonly settings: TicketSettings;
  readonly #repository: StateRepository;
  readonly #sandboxes: SandboxManager;
  readonly #projects: TicketProjects;
  readonly #parts: TicketAgentParts;
  readonly #environment: NodeJS.ProcessEnv;
  readonly #instance: ServerInstance;
  readonly #log: (line: string) => void;
  readonly #events: TicketEventLog;
  readonly #recorder: TicketRecorder;
  readonly #lock = new TicketLock();
  readonly #actions = new TicketActions();
  readonly #queue: TicketQueue;
  readonly #review: ReviewServices;
  readonly #sweeper: ClosedTicketSweeper;

  constructor(options: TicketManagerOptions) {
    this.#repository = options.repository;
    this.#sandboxes = options.sandboxes;
    this.#projects = options.projects;
    this.#parts = options.parts;
    this.#environment = options.environment ?? process.env;
    this.settings = ticketSettings(options.settings, this.#environment);
    this.#instance = options.instance ?? currentServerInstance();
    this.#log = options.log ?? ((line) => process.stderr.write(`mags server: ${line}\n`));
    this.#events = new TicketEventLog(options.repository, this.#log);
    this.#recorder = new TicketRecorder(options.repository, this.#events);
    const common = {
      repository: this.#repository,
      sandboxes: this.#sandboxes,
      projects: this.#projects,
      parts: this.#parts,
      settings: this.settings,
      log: this.#log,
    };
    this.#queue = new TicketQueue({
      maxRunning: this.settings.maxRunning,
      maxRunningPerOwner: this.settings.maxRunningPerOwner,
      repository: this.#repository,
      lock: this.#lock,
      recorder: this.#recorder,
      instance: this.#instance,
      checkRunnable: (ticket) => this.#checkRunnable(ticket),
      log: this.#log,
      attempts: {
        ...common,
        environment: this.#environment,
        emit: (ticket, data) => this.#recorder.emitFromAgent(ticket, data),
        allEvents: (id) => this.#recorder.allEvents(id),
      },
    });
    this.#sweeper = new ClosedTicketSweeper(
      {
        repository: this.#repository,
        sandboxes: this.#sandboxes,
        workspaces: options.workspaces,
        host: this.#instance.host,
        retentionMs: this.settings.closedRetentionMs,
      },
      this.settings.sweepEveryMs,
      this.#log,
    );
    this.#review = {
      ...common,
      lock: this.#lock,
      recorder: this.#recorder,
      queueAttempt: (ticket, update) => this.#queue.queueAttempt(ticket, update),
      checkRunnable: (ticket) => this.#checkRunnable(ticket),
      stopLocked: (ticket, stoppedBy, options) =>
        this.#queue.stopLocked(ticket, stoppedBy, options),
    };
  }

  /**
   * A new ticket of the owner's project: a draft, or queued with `run`. The project, the role and
   * the model (its provider and key) are checked first; on any error nothing is stored. `plan`:
   * the plan it is a ticket of (its plan starts it: `run` with `plan`).
   */
  create(
    owner: string,
    body: CreateTicketBody,
    options: { plan?: string } = {},
  ): Promise<TicketRecord> {
    const kind = body.run ? 'starts_work' : 'other';
    return this.#actions.run(owner, body.project, kind, 'run a ticket', async () => {
      const project = await this.#projects.get(owner, body.project);
      const record = { ...newTicketRecord(owner, body, this.settings), plan: options.plan ?? null };
      resolveTicketChoices(record, project, this.#parts, this.settings, this.#environment);
      // A draft may wait for its project; a queued ticket would only fail to fork it.
      if (body.run) {
        checkProjectReady(project, 'create the ticket again (or create it as a draft now)');
      }
      // Locked from before it exists: a `run` of it meanwhile waits, then finds it queued.
      return this.#lock.run(record.id, async () => {
        await this.#repository.insertTicket(record);
        await this.#recorder.emit(record, {
          type: 'status',
          from: null,
          to: 'draft',
          reason: null,
        });
        if (!body.run) return record;
        return this.#queue.queueAttempt(record);
      });
    });
  }

  /**
   * Throws the error `create` would for this body (the project, the role, the model and its key),
   * storing nothing: a plan checks all its tickets before it creates any. With `models: false`
   * only the project, the role and a given model's provider: a plan's draft is data, whose
   * models (and keys) are checked when it is approved.
   */
  async check(
    owner: string,
    body: CreateTicketBody,
    options: { models?: boolean } = {},
  ): Promise<void> {
    const project = await this.#projects.get(owner, body.project);
    const record = newTicketRecord(owner, body, this.settings);
    if (options.models === false) {
      this.#parts.resolveRole(record.role, project.config.roles);
      if (record.model) checkModelProvider(record.model);
      return;
    }
    resolveTicketChoices(record, project, this.#parts, this.settings, this.#environment);
  }

  /** The owner's tickets; a project in the filter that is not theirs is a 404, not an empty list. */
  async list(owner: string, filter: Omit<TicketFilter, 'owner'> = {}): Promise<TicketRecord[]> {
    if (filter.project !== undefined) await this.#projects.get(owner, filter.project);
    return this.#repository.listTickets({ owner, ...filter });
  }

  async get(owner: string, id: string): Promise<TicketRecord> {
    const record = await this.#repository.getTicket(owner, id);
    if (!record) throw ticketNotFound(id);
    return record;
  }

  /**
   * Queues the next attempt of a draft, failed or stopped ticket (a queued one: a 409). A
   * `budget` is merged into the ticket's, with the status change: a token or cost budget counts
   * the whole ticket, so one it hit must be raised for another attempt to get anywhere.
   *
   * A plan's ticket that never ran is started by its plan only (`plan`: the plan starting it),
   * once its dependencies are approved; `start` is then the workspace their results were merged
   * into, which a ticket without a workspace starts from instead of a fork of the project.
   */
  run(
    owner: string,
    id: string,
    options: { budget?: Budget; start?: TicketStart; plan?: string } = {},
  ): Promise<TicketRecord> {
    return this.#act(owner, id, 'starts_work', `run ticket ${id}`, () =>
      this.#lock.run(id, async () => {
        const ticket = await this.#recorder.require(owner, id, 'run', allowedStatuses.run);
        if (ticket.plan !== null && ticket.status === 'draft' && options.plan !== ticket.plan) {
          throw planTicketWaiting(ticket.id, ticket.plan);
        }
        const start: Partial<TicketRecord> =
          options.start && !ticket.workspace
            ? {
                workspace: options.start.workspace,
                baseCommit: options.start.commit,
                baseTree: options.start.tree,
              }
            : {};
        return this.#queue.queueAttempt(
          { ...ticket, ...start },
          { ...start, ...withBudget(ticket, options.budget) },
        );
      }),
    );
  }

  /**
   * Stops a queued or running ticket: a running agent is aborted and the evidence of what it did
   * is still assembled (a stop while it is assembled ends that too). Resolves once it has
   * stopped. Stopping a stopped ticket changes nothing.
   */
  stop(owner: string, id: string, options: { by: string; reason?: string }): Promise<TicketRecord> {
    return this.#act(owner, id, 'other', `stop ticket ${id}`, () => this.#stop(owner, id, options));
  }

  async #stop(
    owner: string,
    id: string,
    options: { by: string; reason?: string },
  ): Promise<TicketRecord> {
    const stoppedBy = `stopped by ${options.by}${options.reason ? `: ${options.reason}` : ''}`;
    const step = await this.#lock.run(id, async (): Promise<StopStep> => {
      const ticket = await this.get(owner, id);
      if (ticket.status === 'stopped') return { ticket };
      if (!allowedStatuses.stop.includes(ticket.status as 'queued')) {
        throw wrongStatus(id, 'stop', ticket.status, allowedStatuses.stop);
      }
      return this.#queue.stopLocked(ticket, stoppedBy);
    });
    if ('ticket' in step) return step.ticket;
    await step.wait;
    return this.get(owner, id);
  }

  /**
   * A person's comment, stored as an event. A running agent reads it at its next step; any other
   * attempt reads the comments it has not seen at its start (`unseenComments`), so one on a
   * draft, a queued ticket or one in review reaches the next attempt. A closed or approved ticket
   * takes no more comments.
   */
  comment(
    owner: string,
    id: string,
    comment: { author: string; text: string },
  ): Promise<TicketEvent> {
    return this.#act(owner, id, 'other', `comment on ticket ${id}`, () =>
      this.#lock.run(id, async () => {
        const ticket = await this.#recorder.require(
          owner,
          id,
          'comment on',
          allowedStatuses.comment,
        );
        const event = await this.#recorder.emit(ticket, { type: 'comment', ...comment });
        this.#queue.commented(id, { id: event.id, text: comment.text });
        return event;
      }),
    );
  }

  /** Sends it back: a new attempt in the same workspace with the feedback (`ticket-review.ts`). */
  requestChanges(
    owner: string,
    id: string,
    request: { author: string; text: string; budget?: Budget },
  ): Promise<TicketRecord> {
    return this.#act(owner, id, 'starts_work', `request changes on ticket ${id}`, () =>
      requestTicketChanges(this.#review, owner, id, request),
    );
  }

  /** Approves the result as branch `mags/<id>` (`ticket-review.ts`). */
  approve(
    owner: string,
    id: string,
    options: { message?: string; authorName?: string; authorEmail?: string } = {},
  ): Promise<TicketRecord> {
    return this.#act(owner, id, 'starts_work', `approve ticket ${id}`, () =>
      approveTicket(this.#review, owner, id, options),
    );
  }

  /** Closes it, stopping it first if it runs (`ticket-review.ts`). */
  close(owner: string, id: string, options: { by: string }): Promise<TicketRecord> {
    return this.#act(owner, id, 'other', `close ticket ${id}`, () =>
      closeTicket(this.#review, owner, id, options.by),
    );
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

  /**
   * Tells `listener` of every event of every ticket as it is stored by this server process
   * (status changes included), in each ticket's order, with the ticket's owner: what plans and
   * triggers react to, and what an owner's live list follows.
   * Returns the unsubscribe.
   */
  onEvent(listener: TicketEventListener): () => void {
    return this.#events.subscribe(listener);
  }

  /**
   * Resolves once the changes of the ticket under way in this process (its lock's holders) are
   * done: a status event is told before its record is written, so a listener that reads the
   * record (a `ticket.approved` trigger: its branch and commit) waits for this first.
   */
  settled(id: string): Promise<void> {
    return this.#lock.run(id, async () => {});
  }

  /** The evidence of an attempt (the latest by default). */
  async evidence(owner: string, id: string, attempt?: number): Promise<Evidence> {
    const ticket = await this.get(owner, id);
    const evidence = await this.#repository.getEvidence(id, attempt);
    if (evidence) return evidence;
    throw evidenceNotFound(ticket, attempt);
  }

  /** The approved result as a git bundle. */
  async bundle(owner: string, id: string): Promise<Buffer> {
    const ticket = await this.get(owner, id);
    const bundle = await this.#repository.getTicketBundle(id);
    if (bundle) return bundle;
    throw bundleNotFound(ticket);
  }

  /** Resolves when the ticket is queued or running in this process no more. */
  async wait(owner: string, id: string): Promise<TicketRecord> {
    await this.#queue.idle(id);
    return this.get(owner, id);
  }

  /**
   * Takes up the tickets this host's gone server processes left: queued ones (and ones left in
   * `changes_requested` by older servers) are queued here, running ones fail (an agent's
   * conversation is not durable mid-step). Call once at start.
   */
  async recover(): Promise<{ queued: number; failed: number }> {
    return recoverTickets({
      repository: this.#repository,
      sandboxes: this.#sandboxes,
      instance: this.#instance,
      lock: this.#lock,
      recorder: this.#recorder,
      queue: this.#queue,
      log: this.#log,
    });
  }

  /** Starts the periodic sweep of closed tickets past their retention (now, then every so often). */
  start(): void {
    this.#sweeper.start();
  }

  /** Deletes the sandboxes and workspaces of tickets closed longer ago than the retention. */
  sweepClosed(now = Date.now()): Promise<number> {
    return this.#sweeper.sweep(now);
  }

  /**
   * Runs `action` — the deletion of the owner's project — once no action on the project's tickets
   * is in progress; until it is done, each new one is a 409 (`project_deleting`). The
   * ProjectManager deletes through this (`ProjectManagerOptions.tickets`).
   */
  whileDeletingProject<T>(owner: string, project: string, action: () => Promise<T>): Promise<T> {
    return this.#actions.whileDeleting(owner, project, action);
  }

  /**
   * The server is going away: from now on a run, approval or request-changes is a 503 and a
   * ticket queued meanwhile stays queued; running agents (and evidence being assembled) are
   * aborted and their tickets fail with the reason; queued ones stay queued for the next server
   * process; an approval in progress is waited for.
   */
  async shutdown(): Promise<void> {
    this.#actions.close();
    this.#sweeper.stop();
    await this.#queue.shutdown();
    await this.#actions.drained();
  }

  /** An action on the owner's ticket `id`, tracked per project (`TicketActions`). */
  async #act<T>(
    owner: string,
    id: string,
    kind: 'starts_work' | 'other',
    what: string,
    action: () => Promise<T>,
  ): Promise<T> {
    const { project } = await this.get(owner, id);
    return this.#actions.run(owner, project, kind, what, action);
  }

  /** The project, role and model of a ticket about to be queued (a clear error if one is off). */
  async #checkRunnable(ticket: TicketRecord): Promise<void> {
    const project = await this.#projects.get(ticket.owner, ticket.project);
    resolveTicketChoices(ticket, project, this.#parts, this.settings, this.#environment);
    // Only the first attempt forks the project; later ones go on in the ticket's own workspace.
    if (!ticket.workspace) checkProjectReady(project, `mags ticket run ${ticket.id}`);
  }
}
