import { noUsage } from '../agents/token-usage.ts';
import {
  type CreatePlanBody,
  type EditPlanBody,
  isPlanMoving,
  type PlanEvent,
  type PlanEvidence,
  type PlanSpec,
  type PlanStatus,
  type PlanTicket,
} from '../api/plans.ts';
import type { Budget, CreateTicketBody } from '../api/tickets.ts';
import { randomId } from '../config/random-id.ts';
import { currentServerInstance, type ServerInstance } from '../config/server-instance.ts';
import { ConflictError, InvalidInputError } from '../errors/mags-error.ts';
import type {
  PlanFilter,
  PlanRecord,
  ProjectRecord,
  StateRepository,
} from '../state/state-repository.ts';
import { checkProjectReady, serverShuttingDown } from '../tickets/ticket-errors.ts';
import { TicketLock } from '../tickets/ticket-lock.ts';
import type { TicketManager } from '../tickets/ticket-manager.ts';
import type { CheckModel, TicketProjects } from '../tickets/ticket-parts.ts';
import { PlanDispatch } from './plan-dispatch.ts';
import {
  planBundleNotFound,
  planChanged,
  planEvidenceNotFound,
  planNotFound,
  planTicketNotFound,
  wrongPlanStatus,
} from './plan-errors.ts';
import { followPlanEvents } from './plan-event-log.ts';
import { checkPlanGraph } from './plan-graph.ts';
import { deadEnd, followTicketStatus, pendingItems } from './plan-items.ts';
import type { PlanGit, Planner } from './plan-parts.ts';
import { type PlanSettings, planSettings } from './plan-settings.ts';
import { recoverPlans } from './recover-plans.ts';

export interface PlanManagerOptions {
  repository: StateRepository;
  tickets: TicketManager;
  projects: Pick<TicketProjects, 'get'>;
  git: PlanGit;
  planner: Planner;
  /** The planner model's provider and key, checked before a plan is stored. */
  checkModel: CheckModel;
  /** Where MAGS_PLAN_* and the providers' keys are read (default process.env). */
  environment?: NodeJS.ProcessEnv;
  settings?: Partial<PlanSettings>;
  instance?: ServerInstance;
  log?: (line: string) => void;
}

/**
 * Plans (issue 13): a request to a project becomes a plan of tickets (written by the planner, or
 * given), a draft until approved; approved, its tickets are created and dispatched in parallel as
 * their dependencies are approved (`PlanDispatch`), then integrated and reviewed as one branch
 * `mags/plan-<id>`. Another owner's plan is a 404, like a missing one. Every status change is made
 * under the plan's lock after reading the status it changes from.
 */
export class PlanManager {
  readonly settings: PlanSettings;
  readonly #options: PlanManagerOptions;
  readonly #repository: StateRepository;
  readonly #tickets: TicketManager;
  readonly #environment: NodeJS.ProcessEnv;
  readonly #instance: ServerInstance;
  readonly #log: (line: string) => void;
  readonly #dispatch: PlanDispatch;
  /** Plan id → its planner's abort, while it writes. */
  readonly #planners = new Map<string, AbortController>();

  constructor(options: PlanManagerOptions) {
    this.#options = options;
    this.#repository = options.repository;
    this.#tickets = options.tickets;
    this.#environment = options.environment ?? process.env;
    this.settings = planSettings(options.settings, this.#environment);
    this.#instance = options.instance ?? currentServerInstance();
    this.#log = options.log ?? ((line) => process.stderr.write(`mags server: ${line}\n`));
    this.#dispatch = new PlanDispatch({
      repository: this.#repository,
      tickets: this.#tickets,
      git: options.git,
      settings: this.settings,
      instance: this.#instance,
      lock: new TicketLock(),
      log: this.#log,
    });
  }

  /**
   * A new plan of the owner's project: from `body.spec` a draft at once (running with `auto`);
   * without one, `planning` while the planner writes it in the background, then a draft (running
   * with `auto`) or failed with the planner's reason. The project, the planner model (or every
   * ticket of the spec) are checked first; on any error nothing is stored.
   */
  async create(owner: string, body: CreatePlanBody): Promise<PlanRecord> {
    this.#open('create a plan');
    const project = await this.#options.projects.get(owner, body.project);
    let plannerModel: string | undefined;
    if (body.spec) {
      checkPlanGraph(body.spec);
      await this.#checkTickets(owner, body.project, body.spec.tickets);
      if (body.auto) checkProjectReady(project, 'create the plan again (or without --auto)');
    } else {
      plannerModel = this.#plannerModel(body.model, project);
      this.#options.checkModel(plannerModel, this.#environment);
    }
    const at = new Date().toISOString();
    const record: PlanRecord = {
      id: randomId('pln_', 12),
      owner,
      project: body.project,
      request: body.request,
      summary: body.spec?.summary ?? null,
      status: body.spec ? 'draft' : 'planning',
      reason: body.spec ? 'written by hand' : null,
      model: body.model ?? null,
      auto: body.auto ?? false,
      autoApprove: body.autoApprove ?? false,
      maxParallel: body.maxParallel ?? this.settings.defaultMaxParallel,
      budget: body.budget ?? {},
      usage: noUsage,
      tickets: body.spec ? pendingItems(body.spec) : [],
      baseCommit: null,
      integration: null,
      branch: null,
      commit: null,
      approvedAt: null,
      createdAt: at,
      updatedAt: at,
      host: body.spec ? null : this.#instance.host,
      server: body.spec ? null : this.#instance.server,
    };
    await this.#repository.insertPlan(record);
    await this.#dispatch.events.append(record.id, {
      type: 'plan_status',
      from: null,
      to: record.status,
      reason: record.reason,
    });
    if (plannerModel !== undefined) {
      this.#dispatch.background(
        `plan ${record.id}: planner`,
        this.#plan(record, project, plannerModel),
      );
      return record;
    }
    if (body.auto) return this.approve(owner, record.id, { by: 'auto' });
    return record;
  }

  /** The owner's plans, newest first; a project in the filter that is not theirs is a 404. */
  async list(owner: string, filter: Omit<PlanFilter, 'owner'> = {}): Promise<PlanRecord[]> {
    if (filter.project !== undefined) await this.#options.projects.get(owner, filter.project);
    return this.#repository.listPlans({ owner, ...filter });
  }

  async get(owner: string, id: string): Promise<PlanRecord> {
    const plan = await this.#repository.getPlan(owner, id);
    if (!plan) throw planNotFound(id);
    return plan;
  }

  /**
   * Replaces a draft's tickets and summary, checked as the planner's are; with `ifUpdatedAt`, only
   * if the plan is as the editor read it (else 409 `plan_changed`: no edit is lost unseen).
   */
  editSpec(
    owner: string,
    id: string,
    spec: PlanSpec,
    options: { ifUpdatedAt?: string } = {},
  ): Promise<PlanRecord> {
    this.#open(`edit plan ${id}`);
    return this.#dispatch.locked(id, async () => {
      const plan = await this.#require(owner, id, 'edit', ['draft']);
      if (options.ifUpdatedAt !== undefined && options.ifUpdatedAt !== plan.updatedAt) {
        throw planChanged(id, plan.updatedAt);
      }
      checkPlanGraph(spec);
      await this.#checkTickets(owner, plan.project, spec.tickets);
      const updatedAt = new Date().toISOString();
      const tickets = pendingItems(spec);
      await this.#repository.updatePlan(id, { summary: spec.summary, tickets, updatedAt });
      await this.#dispatch.notice(id, `the plan was edited: ${tickets.length} tickets`);
      return { ...plan, summary: spec.summary, tickets, updatedAt };
    });
  }

  /**
   * A draft: its tickets are created (drafts of the plan), then dispatched as they are ready. A
   * plan awaiting review: its integration becomes branch `mags/plan-<id>`, with a bundle.
   */
  approve(
    owner: string,
    id: string,
    options: { by: string; message?: string; authorName?: string; authorEmail?: string },
  ): Promise<PlanRecord> {
    this.#open(`approve plan ${id}`);
    return this.#dispatch.locked(id, async () => {
      const plan = await this.#require(owner, id, 'approve', ['draft', 'awaiting_review']);
      if (plan.status === 'draft') return this.#start(plan, options.by);
      return this.#approveIntegration(plan, options.by);
    });
  }

  /**
   * Runs a failed or stopped ticket of the plan again (its dependents wait for it again), or
   * merges a conflicting or blocked one again; a blocked or stopped plan goes back to running.
   */
  retry(
    owner: string,
    id: string,
    options: { ticket: string; budget?: Budget },
  ): Promise<PlanRecord> {
    this.#open(`retry a ticket of plan ${id}`);
    return this.#dispatch.locked(id, async () => {
      let plan = await this.#require(owner, id, 'retry a ticket of', [
        'running',
        'blocked',
        'stopped',
      ]);
      const item = plan.tickets.find(
        (each) => each.key === options.ticket || each.ticket === options.ticket,
      );
      if (!item) throw planTicketNotFound(id, options.ticket);
      const everyApproved = plan.tickets.every((each) => each.ticketStatus === 'approved');
      if (item.state === 'conflict' || (item.state === 'blocked' && deadEnd(item))) {
        const from = item.state;
        item.state = 'waiting';
        item.reason = null;
        item.conflictFiles = [];
        await this.#dispatch.saveItems(plan, [
          { key: item.key, from, to: 'waiting', reason: 'retried' },
        ]);
      } else if (
        item.state === 'dispatched' &&
        item.ticket &&
        (item.ticketStatus === 'failed' || item.ticketStatus === 'stopped')
      ) {
        const queued = await this.#tickets.run(owner, item.ticket, {
          budget: options.budget,
          plan: id,
        });
        followTicketStatus(item, queued);
        await this.#dispatch.saveItems(plan, []);
      } else if (!everyApproved) {
        throw new ConflictError(
          `Ticket ${item.key} of plan ${id} is ${item.state === 'dispatched' ? item.ticketStatus : item.state}: only a failed or stopped ticket, or a conflicting or blocked one, is retried.`,
          {
            code: 'plan_ticket_status',
            hint: `mags plan show ${id} says which tickets failed, stopped or conflict.`,
          },
        );
      }
      if (plan.status !== 'running') {
        plan = await this.#dispatch.transition(plan, 'running', `ticket ${item.key} retried`);
        this.#dispatch.armWallTimer(plan);
      }
      return this.#dispatch.advance(plan);
    });
  }

  /** Stops the plan (its planner, or its queued and running tickets): `stopped`. */
  async stop(
    owner: string,
    id: string,
    options: { by: string; reason?: string },
  ): Promise<PlanRecord> {
    this.#open(`stop plan ${id}`);
    const why = `stopped by ${options.by}${options.reason ? `: ${options.reason}` : ''}`;
    const stopped = await this.#dispatch.locked(id, async () => {
      const plan = await this.get(owner, id);
      if (plan.status === 'stopped') return undefined;
      const allowed: PlanStatus[] = ['planning', 'running', 'blocked', 'integrating'];
      if (!allowed.includes(plan.status)) throw wrongPlanStatus(id, 'stop', plan.status, allowed);
      this.#planners.get(id)?.abort();
      return this.#dispatch.transition(plan, 'stopped', why);
    });
    if (stopped) {
      await this.#dispatch.stopTickets(stopped, {
        by: options.by,
        reason: `its plan ${id} was stopped`,
      });
    }
    return this.get(owner, id);
  }

  /** Closes the plan and its tickets not approved (stopping those that run): `closed`. */
  async close(owner: string, id: string, options: { by: string }): Promise<PlanRecord> {
    this.#open(`close plan ${id}`);
    const closed = await this.#dispatch.locked(id, async () => {
      const plan = await this.get(owner, id);
      if (plan.status === 'closed') return undefined;
      if (plan.status === 'approved') {
        throw wrongPlanStatus(id, 'close', plan.status, planStatusesBut(['approved', 'closed']));
      }
      this.#planners.get(id)?.abort();
      return this.#dispatch.transition(plan, 'closed', `closed by ${options.by}`);
    });
    for (const item of closed?.tickets ?? []) {
      if (!item.ticket || item.ticketStatus === 'approved' || item.ticketStatus === 'closed')
        continue;
      await this.#tickets.close(owner, item.ticket, options).catch((error: unknown) => {
        this.#log(`plan ${id}: ticket ${item.ticket} not closed: ${(error as Error).message}`);
      });
    }
    return this.get(owner, id);
  }

  /** The plan's events after `after`; with `follow`, until it is settled. */
  async *events(
    owner: string,
    id: string,
    options: { after?: number; follow?: boolean; signal?: AbortSignal } = {},
  ): AsyncGenerator<PlanEvent> {
    await this.get(owner, id);
    yield* followPlanEvents(this.#repository, this.#dispatch.events, { owner, id }, options);
  }

  async evidence(owner: string, id: string): Promise<PlanEvidence> {
    const plan = await this.get(owner, id);
    const evidence = await this.#repository.getPlanEvidence(id);
    if (!evidence) throw planEvidenceNotFound(plan);
    return evidence;
  }

  async bundle(owner: string, id: string): Promise<Buffer> {
    const plan = await this.get(owner, id);
    const bundle =
      plan.status === 'approved' ? await this.#repository.getPlanBundle(id) : undefined;
    if (!bundle) throw planBundleNotFound(plan);
    return bundle;
  }

  /** Resolves when the plan is no longer planning, running or integrating. */
  async wait(owner: string, id: string): Promise<PlanRecord> {
    for (;;) {
      const version = this.#dispatch.events.version(id);
      const plan = await this.get(owner, id);
      if (!isPlanMoving(plan)) return plan;
      await this.#dispatch.events.changed(id, version, { timeoutMs: 1000 });
    }
  }

  /** Takes up the plans this host's gone server processes left (`recover-plans.ts`). Call once, after TicketManager.recover. */
  async recover(): Promise<{ resumed: number; failed: number }> {
    return recoverPlans({
      repository: this.#repository,
      tickets: this.#tickets,
      dispatch: this.#dispatch,
      instance: this.#instance,
      log: this.#log,
    });
  }

  /** Nothing runs on a timer of its own yet; kept so the server starts plans as it does tickets. */
  start(): void {}

  /**
   * The server is going away: new actions are a 503; planners, merges and integrations in
   * progress stop (the next server process takes their plans up); tickets are the TicketManager's.
   */
  async shutdown(): Promise<void> {
    for (const planner of this.#planners.values()) planner.abort();
    await this.#dispatch.shutdown();
  }

  #open(action: string): void {
    if (this.#dispatch.closing) throw serverShuttingDown(action);
  }

  async #require(
    owner: string,
    id: string,
    action: string,
    allowed: PlanStatus[],
  ): Promise<PlanRecord> {
    const plan = await this.get(owner, id);
    if (!allowed.includes(plan.status)) throw wrongPlanStatus(id, action, plan.status, allowed);
    return plan;
  }

  #plannerModel(model: string | undefined, project: ProjectRecord): string {
    const chosen =
      model ?? project.model ?? project.config.model ?? this.#tickets.settings.defaultModel;
    if (chosen) return chosen;
    throw new InvalidInputError('No model to write the plan with.', {
      code: 'model_missing',
      hint: "Give one (--model anthropic:claude-sonnet-4-5), or set a default: the project's (model in its .mags/project.json) or the server's (MAGS_DEFAULT_MODEL); or give the plan itself (spec).",
    });
  }

  /** Every ticket as `TicketManager.create` would take it (a clear error naming the ticket). */
  async #checkTickets(
    owner: string,
    project: string,
    tickets: EditPlanBody['tickets'],
  ): Promise<void> {
    for (const ticket of tickets) {
      try {
        await this.#tickets.check(owner, ticketBody(project, ticket));
      } catch (error) {
        if (error instanceof Error)
          error.message = `Ticket ${ticket.key} of the plan: ${error.message}`;
        throw error;
      }
    }
  }

  /** The planner writes the plan (outside any lock), then, under it, the draft or the failure. */
  async #plan(record: PlanRecord, project: ProjectRecord, model: string): Promise<void> {
    const abort = new AbortController();
    this.#planners.set(record.id, abort);
    let written: Awaited<ReturnType<Planner>> | undefined;
    let failure: string | undefined;
    try {
      written = await this.#options.planner({
        project,
        request: record.request,
        model,
        signal: abort.signal,
        environment: this.#environment,
        onAttempt: (attempt) => {
          void this.#dispatch.events.append(record.id, { type: 'planner', ...attempt });
        },
      });
      checkPlanGraph(written.spec);
    } catch (error) {
      failure = (error as Error).message;
    } finally {
      this.#planners.delete(record.id);
    }
    if (this.#dispatch.closing) return; // left `planning`: the next server process fails it
    const drafted = await this.#dispatch.locked(record.id, async () => {
      const plan = await this.#repository.getPlan(record.owner, record.id);
      if (plan?.status !== 'planning') return undefined;
      if (failure !== undefined || !written) {
        await this.#dispatch.transition(plan, 'failed', `the planner gave up: ${failure}`);
        return undefined;
      }
      const usage = written.usage;
      await this.#dispatch.events.append(plan.id, { type: 'usage', total: usage });
      return this.#dispatch.transition(plan, 'draft', `written by ${model}`, {
        summary: written.spec.summary,
        tickets: pendingItems(written.spec),
        usage,
        host: null,
        server: null,
      });
    });
    if (drafted?.auto) {
      await this.approve(drafted.owner, drafted.id, { by: 'auto' }).catch(
        async (error: unknown) => {
          // A draft that stays one is settled: without `auto`, followers stop waiting for its run.
          await this.#repository.updatePlan(drafted.id, { auto: false });
          await this.#dispatch.notice(
            drafted.id,
            `not approved automatically: ${(error as Error).message}`,
          );
        },
      );
    }
  }

  /** Draft → running: every ticket checked, then created, then the ready ones dispatched. */
  async #start(plan: PlanRecord, by: string): Promise<PlanRecord> {
    const project = await this.#options.projects.get(plan.owner, plan.project);
    checkProjectReady(project, `mags plan approve ${plan.id}`);
    checkPlanGraph(plan);
    await this.#checkTickets(plan.owner, plan.project, plan.tickets);
    const created: string[] = [];
    try {
      for (const item of plan.tickets) {
        const ticket = await this.#tickets.create(plan.owner, ticketBody(plan.project, item), {
          plan: plan.id,
        });
        created.push(ticket.id);
        item.ticket = ticket.id;
        item.ticketStatus = ticket.status;
      }
    } catch (error) {
      // Nothing half-made: the tickets made so far are closed, the plan stays a draft.
      for (const ticket of created) {
        await this.#tickets.close(plan.owner, ticket, { by: 'mags' }).catch(() => {});
      }
      throw error;
    }
    const changes = plan.tickets.map((item) => {
      item.state = 'waiting';
      return { key: item.key, from: 'pending' as const, to: 'waiting' as const, reason: null };
    });
    const running = await this.#dispatch.transition(plan, 'running', `approved by ${by}`, {
      tickets: plan.tickets,
      baseCommit: project.commit,
      approvedAt: new Date().toISOString(),
    });
    this.#dispatch.track(running);
    await this.#dispatch.saveItems(running, changes);
    return this.#dispatch.advance(running);
  }

  /** Awaiting review → approved: the integration as branch `mags/plan-<id>`, its bundle stored. */
  async #approveIntegration(plan: PlanRecord, by: string): Promise<PlanRecord> {
    if (!plan.integration || !plan.baseCommit) {
      throw wrongPlanStatus(plan.id, 'approve', plan.status, ['draft']);
    }
    const branch = `mags/plan-${plan.id}`;
    const approved = await this.#options.git.approveIntegration(plan.owner, plan.project, {
      branch,
      commit: plan.integration.commit,
      baseCommit: plan.baseCommit,
    });
    await this.#repository.putPlanBundle(plan.id, approved.bundle);
    return this.#dispatch.transition(plan, 'approved', `approved by ${by} as ${branch}`, {
      branch,
      commit: approved.commit,
    });
  }
}

/** A plan's ticket as `TicketManager.create` takes it. */
function ticketBody(
  project: string,
  ticket: EditPlanBody['tickets'][number] | PlanTicket,
): CreateTicketBody {
  return {
    project,
    title: ticket.title,
    request: ticket.request,
    criteria: ticket.criteria,
    ...(ticket.role !== undefined ? { role: ticket.role } : {}),
    ...(ticket.model !== undefined ? { model: ticket.model } : {}),
    ...(ticket.budget !== undefined ? { budget: ticket.budget } : {}),
  };
}

function planStatusesBut(excluded: PlanStatus[]): PlanStatus[] {
  const all: PlanStatus[] = [
    'planning',
    'draft',
    'running',
    'integrating',
    'awaiting_review',
    'approved',
    'blocked',
    'failed',
    'stopped',
    'closed',
  ];
  return all.filter((status) => !excluded.includes(status));
}
