import { noUsage } from '../agents/token-usage.ts';
import {
  type CreatePlanBody,
  isPlanMoving,
  type PlanEvent,
  type PlanEvidence,
  type PlanSpec,
  type PlanStatus,
  planStatuses,
} from '../api/plans.ts';
import type { Budget } from '../api/tickets.ts';
import { randomId } from '../config/random-id.ts';
import { currentServerInstance, type ServerInstance } from '../config/server-instance.ts';
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
import { approveIntegration, startPlan } from './plan-approval.ts';
import { PlanDispatch } from './plan-dispatch.ts';
import { plannerModel as choosePlannerModel, draftPlan } from './plan-drafting.ts';
import {
  planBundleNotFound,
  planChanged,
  planEvidenceNotFound,
  planNotFound,
  wrongPlanStatus,
} from './plan-errors.ts';
import { followPlanEvents } from './plan-event-log.ts';
import { checkPlanGraph } from './plan-graph.ts';
import { pendingItems } from './plan-items.ts';
import type { PlanGit, Planner } from './plan-parts.ts';
import { retryPlanTicket } from './plan-retry.ts';
import { type PlanSettings, planSettings } from './plan-settings.ts';
import { checkPlanTickets } from './plan-ticket-body.ts';
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
      // A draft is data: its tickets' models are checked when it is approved (with auto: now).
      await checkPlanTickets(this.#tickets, owner, body.project, body.spec.tickets, {
        models: body.auto === true,
      });
      if (body.auto) checkProjectReady(project, 'create the plan again (or without --auto)');
    } else {
      plannerModel = choosePlannerModel(body.model, project, this.#tickets.settings.defaultModel);
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
    this.#dispatch.events.recordChanged(record);
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

  /**
   * Calls `listener` with the owner and id of each plan whose record changes in this process
   * (made, edited, its status, its tickets' progress, its usage); returns the unsubscribe.
   */
  onChange(listener: (owner: string, planId: string) => void): () => void {
    return this.#dispatch.events.onRecordChange(listener);
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
      await checkPlanTickets(this.#tickets, owner, plan.project, spec.tickets, { models: false });
      const updatedAt = new Date().toISOString();
      const tickets = pendingItems(spec);
      await this.#repository.updatePlan(id, { summary: spec.summary, tickets, updatedAt });
      this.#dispatch.events.recordChanged(plan);
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
      if (plan.status === 'draft') {
        return startPlan(
          { dispatch: this.#dispatch, projects: this.#options.projects },
          plan,
          options.by,
        );
      }
      return approveIntegration(
        { dispatch: this.#dispatch, git: this.#options.git },
        plan,
        options.by,
      );
    });
  }

  /**
   * Runs a failed or stopped ticket of the plan again (its dependents wait for it again), or
   * merges a conflicting or blocked one again; a blocked or stopped plan goes back to running.
   */
  retry(
    owner: string,
    id: string,
    options: { ticket: string; budget?: Budget; resolve?: boolean },
  ): Promise<PlanRecord> {
    this.#open(`retry a ticket of plan ${id}`);
    return this.#dispatch.locked(id, async () => {
      const plan = await this.#require(owner, id, 'retry a ticket of', [
        'running',
        'blocked',
        'stopped',
      ]);
      return retryPlanTicket(this.#dispatch, plan, options);
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

  /**
   * Closes the plan and its tickets not approved (stopping those that run): `closed`; its
   * integration's workspace is discarded.
   */
  async close(owner: string, id: string, options: { by: string }): Promise<PlanRecord> {
    this.#open(`close plan ${id}`);
    const closed = await this.#dispatch.locked(id, async () => {
      const plan = await this.get(owner, id);
      if (plan.status === 'closed') return undefined;
      if (plan.status === 'approved') {
        const allowed = planStatuses.filter((each) => each !== 'approved' && each !== 'closed');
        throw wrongPlanStatus(id, 'close', plan.status, allowed);
      }
      this.#planners.get(id)?.abort();
      return this.#dispatch.transition(plan, 'closed', `closed by ${options.by}`);
    });
    // An integration waiting for review is not used any more (`integration` stays recorded).
    if (closed?.integration) {
      await this.#dispatch.discard(owner, closed.project, closed.integration.workspace);
    }
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

  /** The id of the plan's newest event (0: none yet). */
  async lastEventId(owner: string, id: string): Promise<number> {
    await this.get(owner, id);
    return this.#repository.lastPlanEventId(id);
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

  /** The planner writes the plan in the background; a draft with `auto` is approved then. */
  async #plan(record: PlanRecord, project: ProjectRecord, model: string): Promise<void> {
    const drafted = await draftPlan(
      {
        dispatch: this.#dispatch,
        planner: this.#options.planner,
        environment: this.#environment,
        planners: this.#planners,
      },
      record,
      project,
      model,
    );
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
}
