import { randomUUID } from 'node:crypto';
import { addUsage, noUsage, sameUsage, subtractUsage } from '../agents/token-usage.ts';
import type { PlanStatus, PlanTicket } from '../api/plans.ts';
import type { Budget, TicketEvent, TicketStatus, TokenUsage } from '../api/tickets.ts';
import type { ServerInstance } from '../config/server-instance.ts';
import type {
  PlanRecord,
  PlanUpdate,
  StateRepository,
  TicketRecord,
} from '../state/state-repository.ts';
import type { TicketLock } from '../tickets/ticket-lock.ts';
import type { TicketManager } from '../tickets/ticket-manager.ts';
import { approvedResults, type MergeFailure, mergeFailure } from './approved-results.ts';
import {
  noConflictMarkersCriterion,
  resolveIntegrationKey,
  withResolveTask,
} from './conflict-resolution.ts';
import { followTickets, readPlanLog } from './follow-plan-tickets.ts';
import { OwnerSlots } from './owner-slots.ts';
import { autoApprovalRefusal } from './plan-auto-approval.ts';
import { budgetWithinPlan, planBudgetExceeded } from './plan-budget.ts';
import { PlanEventLog } from './plan-event-log.ts';
import { planEvidence } from './plan-evidence.ts';
import { checkPlanGraph } from './plan-graph.ts';
import {
  followTicketStatus,
  type ItemChange,
  inFlight,
  planProgress,
  readyItems,
  settleBlocked,
} from './plan-items.ts';
import type { PlanGit } from './plan-parts.ts';
import type { PlanSettings } from './plan-settings.ts';
import { PlanWallTimers } from './plan-wall-timers.ts';

export interface PlanDispatchOptions {
  repository: StateRepository;
  tickets: TicketManager;
  git: PlanGit;
  settings: PlanSettings;
  instance: ServerInstance;
  /** One state change per plan at a time (a `TicketLock` keyed by plan id). */
  lock: TicketLock;
  log(line: string): void;
  /** The longest one wall timer waits before it is armed again (tests make it short). */
  maxTimerDelayMs?: number;
}

/** What a ticket's status or usage event says (its record may not say it yet). */
type TicketChange = { status: TicketStatus; reason: string | null } | { usage: TokenUsage };

/** A ticket of a plan this process drives: where its events go. */
interface PlanTicketEntry {
  owner: string;
  plan: string;
  key: string;
}

/**
 * What moves an approved plan along: its tickets' events (mirrored into the plan's log, and their
 * status and usage into its items), dispatch of the ready tickets within the plan's and the
 * owner's limits (a ticket with dependencies starts from their results merged: `PlanGit`), the
 * plan's own status (blocked, integrating, awaiting review), auto-approval, the plan budget and
 * the integration. Every change of a plan is made under its lock after reading it again.
 */
export class PlanDispatch {
  readonly events: PlanEventLog;
  readonly #options: PlanDispatchOptions;
  readonly #repository: StateRepository;
  readonly #tickets: TicketManager;
  /** Ticket id → its plan, for the plans this process drives. */
  readonly #index = new Map<string, PlanTicketEntry>();
  /** Ticket id → the last of its events mirrored into its plan's log. */
  readonly #mirrored = new Map<string, number>();
  readonly #slots = new OwnerSlots();
  /** Plan id → owner, for plans running or blocked here (poked when an owner's slot frees). */
  readonly #driven = new Map<string, string>();
  readonly #wallTimers: PlanWallTimers;
  /** `plan/key` of the merges running in this process (any other `merging` item was cut off). */
  readonly #merges = new Set<string>();
  /** Plan id → the abort of its merges and integration in progress (a stop, close or failure). */
  readonly #aborts = new Map<string, AbortController>();
  readonly #background = new Set<Promise<unknown>>();
  /** Aborted at shutdown: merges and integrations in progress stop (recovery takes them up). */
  readonly shutdownSignal = new AbortController();
  readonly #unsubscribe: () => void;

  constructor(options: PlanDispatchOptions) {
    this.#options = options;
    this.#repository = options.repository;
    this.#tickets = options.tickets;
    this.events = new PlanEventLog(options.repository);
    this.#wallTimers = new PlanWallTimers((plan) => this.#wallTimeUp(plan), {
      maxDelayMs: options.maxTimerDelayMs,
    });
    this.#unsubscribe = options.tickets.onEvent((ticketId, event) =>
      this.#ticketEvent(ticketId, event),
    );
  }

  get closing(): boolean {
    return this.shutdownSignal.signal.aborted;
  }

  /** Runs `work` under the plan's lock. */
  locked<T>(planId: string, work: () => Promise<T>): Promise<T> {
    return this.#options.lock.run(planId, work);
  }

  /** Work that goes on after the request that started it; logged if it fails, awaited at shutdown. */
  background(what: string, work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => {
      this.#options.log(`${what}: ${(error as Error).message}`);
    });
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }

  /**
   * A status change of `plan` (as just read under its lock): its event first, then the record.
   * A plan that moves (planning, running, integrating) is recorded as this process's.
   */
  async transition(
    plan: PlanRecord,
    to: PlanStatus,
    reason: string | null,
    update: PlanUpdate = {},
  ): Promise<PlanRecord> {
    const moving = to === 'planning' || to === 'running' || to === 'integrating';
    const next: PlanRecord = {
      ...plan,
      ...update,
      ...(moving
        ? { host: this.#options.instance.host, server: this.#options.instance.server }
        : {}),
      status: to,
      reason,
      updatedAt: new Date().toISOString(),
    };
    await this.events.append(plan.id, { type: 'plan_status', from: plan.status, to, reason });
    const { id: _id, owner: _owner, project: _project, createdAt: _createdAt, ...rest } = next;
    await this.#repository.updatePlan(plan.id, rest);
    this.events.touch(plan.id);
    if (to === 'running' || to === 'blocked') this.#driven.set(plan.id, plan.owner);
    else this.#driven.delete(plan.id);
    if (to !== 'running' && to !== 'blocked' && to !== 'integrating') {
      this.#wallTimers.clear(plan.id);
      // Its merges and integration in progress stop; their forks are discarded where they end.
      this.#aborts.get(plan.id)?.abort();
      this.#aborts.delete(plan.id);
      // A closed plan's tickets are closed; a stopped or failed one's are forgotten once they
      // stopped (`stopTickets`), and tracked again if it is retried.
      if (to === 'approved' || to === 'closed') this.#forget(next);
    }
    this.#syncSlots(next);
    return next;
  }

  /** Stores the items' changes: a `ticket_state` event each, then the record. */
  async saveItems(plan: PlanRecord, changes: ItemChange[]): Promise<void> {
    for (const change of changes) {
      const item = plan.tickets.find((each) => each.key === change.key);
      await this.events.append(plan.id, {
        type: 'ticket_state',
        key: change.key,
        ticket: item?.ticket ?? null,
        from: change.from,
        to: change.to,
        reason: change.reason,
      });
    }
    plan.updatedAt = new Date().toISOString();
    await this.#repository.updatePlan(plan.id, {
      tickets: plan.tickets,
      usage: plan.usage,
      updatedAt: plan.updatedAt,
    });
    this.events.touch(plan.id);
    this.#syncSlots(plan);
  }

  notice(planId: string, message: string): Promise<unknown> {
    return this.events.append(planId, { type: 'notice', message });
  }

  /**
   * This process drives the plan's tickets from now on: their events reach the plan. Their
   * events stored before (from `afterEvents`, per ticket) are mirrored first.
   */
  track(plan: PlanRecord, afterEvents: Map<string, number> = new Map()): void {
    for (const item of plan.tickets) {
      if (!item.ticket) continue;
      this.#index.set(item.ticket, { owner: plan.owner, plan: plan.id, key: item.key });
      this.#mirrored.set(item.ticket, afterEvents.get(item.ticket) ?? 0);
      void this.#mirror(plan.id, item.key, item.ticket);
    }
    if (plan.status === 'running' || plan.status === 'blocked') {
      this.#driven.set(plan.id, plan.owner);
    }
    this.#wallTimers.arm(plan);
  }

  /** Aborted when the plan stops moving (or at shutdown): its merges and integration end. */
  planSignal(planId: string): AbortSignal {
    let abort = this.#aborts.get(planId);
    if (!abort) {
      abort = new AbortController();
      this.#aborts.set(planId, abort);
    }
    return AbortSignal.any([abort.signal, this.shutdownSignal.signal]);
  }

  /** Whether a merge for the item runs in this process now. */
  merging(planId: string, key: string): boolean {
    return this.#merges.has(`${planId}/${key}`);
  }

  /** Deletes a fork made by `forkMerged` or `integrate` that is not used; failures are logged. */
  async discard(owner: string, project: string, workspace: string): Promise<void> {
    try {
      await this.#options.git.discard(owner, project, workspace);
    } catch (error) {
      this.#options.log(`workspace ${workspace} not discarded: ${(error as Error).message}`);
    }
  }

  /**
   * A stopped plan (about to be retried) followed again: its items as their tickets' records say
   * now (what happened while it was not followed), its tickets' events mirrored from where they
   * stopped. Returns the plan as stored.
   */
  async refollow(plan: PlanRecord): Promise<PlanRecord> {
    const log = await readPlanLog(this.#repository, plan.id);
    this.track(plan, log.mirrored);
    const changes = await followTickets(this.#repository, plan);
    await this.saveItems(plan, changes);
    return plan;
  }

  /** Whether this process follows the ticket's events into a plan. */
  tracking(ticketId: string): boolean {
    return this.#index.has(ticketId);
  }

  #forget(plan: PlanRecord): void {
    for (const item of plan.tickets) {
      if (!item.ticket) continue;
      this.#index.delete(item.ticket);
      this.#mirrored.delete(item.ticket);
    }
  }

  #ticketEvent(ticketId: string, event: TicketEvent): void {
    const entry = this.#index.get(ticketId);
    if (!entry || this.closing) return;
    void this.#mirror(entry.plan, entry.key, ticketId, event);
    const data = event.data;
    if (data.type !== 'status' && data.type !== 'usage') return;
    // From the event, not the record: the event is told before the record is written.
    const change: TicketChange =
      data.type === 'status' ? { status: data.to, reason: data.reason } : { usage: data.total };
    this.locked(entry.plan, () => this.#ticketChanged(entry, ticketId, change)).catch(
      (error: unknown) => {
        this.#options.log(`plan ${entry.plan}: ${(error as Error).message}`);
      },
    );
  }

  /**
   * Copies the ticket's events into its plan's log as `ticket_event`s, in order, none twice: the
   * event given when it follows the last one mirrored, else every stored one after that.
   */
  #mirror(planId: string, key: string, ticketId: string, event?: TicketEvent): Promise<unknown> {
    return this.events
      .enqueue(planId, async () => {
        const last = this.#mirrored.get(ticketId);
        if (last === undefined || (event && event.id <= last)) return;
        const missing =
          event && event.id === last + 1
            ? [event]
            : await this.#repository.readTicketEvents(ticketId, last, Number.MAX_SAFE_INTEGER);
        for (const each of missing) {
          await this.events.appendNow(planId, {
            type: 'ticket_event',
            key,
            ticket: ticketId,
            event: each,
          });
          this.#mirrored.set(ticketId, each.id);
        }
      })
      .catch((error: unknown) => {
        this.#options.log(
          `plan ${planId}: ticket events not mirrored: ${(error as Error).message}`,
        );
      });
  }

  /**
   * A status or usage event of a plan's ticket: its item follows what the event says, then the
   * plan moves on. The ticket's record is not read: its event is told before it is written.
   */
  async #ticketChanged(
    entry: PlanTicketEntry,
    ticketId: string,
    change: TicketChange,
  ): Promise<void> {
    const plan = await this.#repository.getPlan(entry.owner, entry.plan);
    const item = plan?.tickets.find((each) => each.key === entry.key);
    if (!plan || !item || item.ticket !== ticketId) return;
    const before = item.ticketStatus;
    if ('status' in change) followTicketStatus(item, change);
    else if (!sameUsage(item.usage, change.usage)) {
      plan.usage = addUsage(plan.usage, subtractUsage(change.usage, item.usage));
      item.usage = change.usage;
      await this.events.append(plan.id, { type: 'usage', total: plan.usage });
    }
    if (item.ticketStatus === 'awaiting_review' && before !== 'awaiting_review') {
      this.maybeAutoApprove(plan, item);
    }
    await this.advance(plan);
  }

  /** With `autoApprove`, a ticket awaiting review whose evidence passed is approved (not here: after). */
  maybeAutoApprove(plan: PlanRecord, item: PlanTicket): void {
    if (!plan.autoApprove || !item.ticket || plan.status !== 'running') return;
    const ticketId = item.ticket;
    this.background(
      `plan ${plan.id}: auto-approval of ${ticketId}`,
      this.#autoApprove(plan, item.key, ticketId),
    );
  }

  async #autoApprove(planAtStart: PlanRecord, key: string, ticketId: string): Promise<void> {
    const evidence = await this.#repository.getEvidence(ticketId);
    const why = autoApprovalRefusal(evidence);
    if (why) {
      await this.notice(
        planAtStart.id,
        `ticket ${key} (${ticketId}) waits for a person's review: ${why}`,
      );
      return;
    }
    // Checked again under the plan's lock right before: a plan stopped meanwhile approves nothing.
    const refused = await this.locked(planAtStart.id, async () => {
      const plan = await this.#repository.getPlan(planAtStart.owner, planAtStart.id);
      if (plan?.status !== 'running') return `its plan is ${plan?.status ?? 'gone'}`;
      try {
        await this.#tickets.approve(plan.owner, ticketId, {});
        return null;
      } catch (error) {
        return (error as Error).message;
      }
    });
    if (refused) {
      await this.notice(
        planAtStart.id,
        `ticket ${key} (${ticketId}) could not be approved automatically: ${refused}`,
      );
    }
  }

  /**
   * Moves a running (or blocked) plan on, under its lock, from `plan` as just read and changed:
   * the budget, blocked items, the ready ones started within the limits, then the plan's status.
   * Stores the items (and the plan's status if it changes). Returns the plan as stored.
   */
  async advance(plan: PlanRecord): Promise<PlanRecord> {
    if (plan.status !== 'running' && plan.status !== 'blocked') {
      await this.saveItems(plan, []);
      return plan;
    }
    const spent = planBudgetExceeded(plan.budget, plan.usage, plan.approvedAt);
    if (spent) {
      await this.saveItems(plan, []);
      return this.fail(plan, spent);
    }
    const order = checkPlanGraph(plan);
    const changes: ItemChange[] = [];
    // A merge no process runs any more (cut off by a stop or a restart) is made again.
    for (const item of plan.tickets) {
      if (item.state !== 'merging' || this.merging(plan.id, item.key)) continue;
      item.state = 'waiting';
      item.reason = null;
      changes.push({
        key: item.key,
        from: 'merging',
        to: 'waiting',
        reason: 'its merge was cut off',
      });
    }
    changes.push(...settleBlocked(plan.tickets, order));
    for (const item of readyItems(plan.tickets, order)) {
      if (this.closing) break;
      if (plan.tickets.filter(inFlight).length >= plan.maxParallel) break;
      if (this.#slots.count(plan) >= this.#options.settings.maxParallelPerOwner) break;
      // Taken before the await: another plan of the owner (under its own lock) counts it.
      this.#slots.reserve(plan.owner, plan.id, item.key);
      const change = await this.#start(plan, item);
      if (!inFlight(item)) this.#slots.release(plan.owner, plan.id, item.key);
      changes.push(change);
    }
    // A ticket that could not start is a dead end for its dependents.
    changes.push(...settleBlocked(plan.tickets, order));
    await this.saveItems(plan, changes);
    const progress = planProgress(plan.tickets);
    if (progress.next === 'integrate') {
      const integrating = await this.transition(
        plan,
        'integrating',
        'every ticket is approved: integrating their results',
      );
      this.background(`plan ${plan.id}: integration`, this.integrate(integrating));
      return integrating;
    }
    if (progress.next === 'moving' && plan.status === 'blocked') {
      return this.transition(plan, 'running', 'its tickets can make progress again');
    }
    if (
      progress.next === 'blocked' &&
      (plan.status !== 'blocked' || plan.reason !== progress.reason)
    ) {
      return this.transition(plan, 'blocked', progress.reason);
    }
    return plan;
  }

  /** A ready item: queued at once without dependencies, else merging its dependencies' results. */
  async #start(plan: PlanRecord, item: PlanTicket): Promise<ItemChange> {
    const from = item.state;
    if (item.dependsOn.length > 0) {
      item.state = 'merging';
      item.reason = null;
      // Marked before the merge starts: `advance` resets a `merging` item no merge here runs.
      this.#merges.add(`${plan.id}/${item.key}`);
      this.background(
        `plan ${plan.id}: merge for ${item.key}`,
        this.#mergeAndStart(plan, item.key).finally(() =>
          this.#merges.delete(`${plan.id}/${item.key}`),
        ),
      );
      return { key: item.key, from, to: 'merging', reason: null };
    }
    return this.#queue(plan, item, undefined);
  }

  /**
   * Queues the item's ticket (from `start`, the merged workspace, when given), its budget capped
   * at what the plan's has left. A merged workspace that is not used is discarded.
   */
  async #queue(plan: PlanRecord, item: PlanTicket, start: Merged | undefined): Promise<ItemChange> {
    const from = item.state;
    try {
      if (!item.ticket) throw new Error('it has no ticket');
      const budget = await this.ticketBudget(plan, item.ticket);
      const queued = await this.#tickets.run(plan.owner, item.ticket, {
        plan: plan.id,
        start,
        budget,
      });
      if (start && queued.workspace !== start.workspace) {
        await this.discard(plan.owner, plan.project, start.workspace);
      }
      item.state = 'dispatched';
      item.reason = null;
      item.resolveConflicts = undefined;
      item.conflictFiles = [];
      item.ticketStatus = queued.status;
    } catch (error) {
      if (start) await this.discard(plan.owner, plan.project, start.workspace);
      item.state = 'blocked';
      item.reason = `could not start: ${(error as Error).message}`;
    }
    return { key: item.key, from, to: item.state, reason: item.reason };
  }

  /**
   * The ticket's budget capped at what the plan's has left (a ticket's token and cost budgets
   * count the whole ticket: its usage so far plus the plan's rest), merged with `asked`.
   */
  async ticketBudget(
    plan: PlanRecord,
    ticketId: string,
    asked?: Budget,
  ): Promise<Budget | undefined> {
    const ticket = await this.#repository.getTicket(plan.owner, ticketId);
    if (!ticket) return asked;
    return budgetWithinPlan(plan.budget, plan.usage, ticket, asked);
  }

  /**
   * Forks the project with the item's dependencies' approved results merged in (outside the
   * plan's lock: it takes a while), then, under the lock, queues its ticket from there, or records
   * the conflict. A plan stopped meanwhile drops the merge (the item waits again). An item retried
   * to resolve its conflict starts from the conflicting merge, resolving it as its first task.
   */
  async #mergeAndStart(planAtStart: PlanRecord, key: string): Promise<void> {
    const { owner, project } = planAtStart;
    const item = planAtStart.tickets.find((each) => each.key === key);
    if (!item?.ticket) return;
    const resolving = item.resolveConflicts === true;
    let merged: Merged | undefined;
    let failure: MergeFailure | undefined;
    let commits: string[] = [];
    try {
      const order = checkPlanGraph(planAtStart);
      const dependencies = order.filter((each) => item.dependsOn.includes(each));
      const { results } = await approvedResults(this.#repository, planAtStart, dependencies);
      commits = results.map((result) => result.commit);
      merged = await this.#options.git.forkMerged(
        owner,
        project,
        `${item.ticket}-${randomUUID()}`,
        results,
        {
          signal: this.planSignal(planAtStart.id),
          ...(planAtStart.baseCommit ? { baseCommit: planAtStart.baseCommit } : {}),
          ...(resolving ? { allowConflicts: true } : {}),
        },
      );
    } catch (error) {
      if (this.closing) return; // left `merging`: the next server process merges it again
      failure = mergeFailure(error);
    }
    await this.locked(planAtStart.id, async () => {
      const plan = await this.#repository.getPlan(owner, planAtStart.id);
      const current = plan?.tickets.find((each) => each.key === key);
      if (!plan || current?.state !== 'merging') {
        if (merged) await this.discard(owner, project, merged.workspace);
        return;
      }
      const conflicts =
        failure && 'conflict' in failure ? failure.conflict : (merged?.conflicts ?? []);
      if (!failure || 'conflict' in failure) {
        await this.events.append(plan.id, {
          type: 'merge',
          key,
          commits,
          result: conflicts.length > 0 ? 'conflict' : 'merged',
          files: conflicts,
        });
      }
      let change: ItemChange;
      if (plan.status !== 'running' && plan.status !== 'blocked') {
        if (merged) await this.discard(owner, project, merged.workspace);
        current.state = 'waiting';
        change = { key, from: 'merging', to: 'waiting', reason: `its plan is ${plan.status}` };
      } else if (failure && 'conflict' in failure) {
        current.state = 'conflict';
        current.conflictFiles = failure.conflict;
        current.resolveConflicts = undefined;
        current.reason = `its dependencies' results conflict in ${failure.conflict.join(', ')}`;
        change = { key, from: 'merging', to: 'conflict', reason: current.reason };
      } else if (failure || !merged) {
        current.state = 'blocked';
        current.reason = `could not merge its dependencies' results: ${failure && 'error' in failure ? failure.error : 'no workspace'}`;
        change = { key, from: 'merging', to: 'blocked', reason: current.reason };
      } else {
        if (conflicts.length > 0 && current.ticket) {
          await this.#addResolveTask(owner, current.ticket, conflicts);
        }
        change = await this.#queue(plan, current, merged);
      }
      await this.saveItems(plan, [change]);
      await this.advance(plan);
    });
  }

  /** The ticket (a draft of the plan) gets resolving the conflict as its first task and criterion. */
  async #addResolveTask(owner: string, ticketId: string, files: string[]): Promise<void> {
    const ticket = await this.#repository.getTicket(owner, ticketId);
    if (ticket?.status !== 'draft') return;
    await this.#repository.updateTicket(ticketId, {
      request: withResolveTask(ticket.request, files),
      criteria: [noConflictMarkersCriterion(files), ...ticket.criteria],
      updatedAt: new Date().toISOString(),
    });
  }

  /**
   * The integration of a plan whose tickets are all approved (outside its lock), then under it:
   * the plan's evidence and `awaiting_review`; or, on a conflict, a `resolve-integration` ticket
   * in conflict (a retry of it resolves the conflict) and `blocked`; or `failed`.
   */
  async integrate(planAtStart: PlanRecord): Promise<void> {
    const { owner, project } = planAtStart;
    const startedAt = new Date().toISOString();
    let integrated: Integrated | undefined;
    let failure: MergeFailure | undefined;
    let order: string[] = [];
    let tickets = new Map<string, TicketRecord>();
    let commits: string[] = [];
    try {
      // A previous integration (before a retry) is not used any more.
      if (planAtStart.integration) {
        await this.discard(owner, project, planAtStart.integration.workspace);
      }
      order = checkPlanGraph(planAtStart);
      const approved = await approvedResults(this.#repository, planAtStart, order);
      tickets = approved.tickets;
      // A dependent started from its dependencies' merge: its commit has theirs (and a conflict
      // between them resolved), so only the tickets nothing depends on are merged.
      const depended = new Set(planAtStart.tickets.flatMap((each) => each.dependsOn));
      const heads = approved.results.filter((result) => !depended.has(result.key));
      commits = heads.map((result) => result.commit);
      integrated = await this.#options.git.integrate(
        owner,
        project,
        `${planAtStart.id}-integration-${randomUUID()}`,
        {
          baseCommit: planAtStart.baseCommit ?? '',
          results: heads,
          criteria: [...approved.tickets].map(([key, ticket]) => ({
            key,
            criteria: ticket.criteria,
          })),
          signal: this.planSignal(planAtStart.id),
        },
      );
    } catch (error) {
      if (this.closing) return; // left `integrating`: the next server process integrates again
      failure = mergeFailure(error);
    }
    await this.locked(planAtStart.id, async () => {
      const plan = await this.#repository.getPlan(owner, planAtStart.id);
      if (plan?.status !== 'integrating') {
        if (integrated) await this.discard(owner, project, integrated.workspace);
        return;
      }
      if (failure && 'conflict' in failure) {
        await this.events.append(plan.id, {
          type: 'merge',
          key: null,
          commits,
          result: 'conflict',
          files: failure.conflict,
        });
        await this.#integrationConflict(plan, failure.conflict);
        return;
      }
      if (failure || !integrated) {
        await this.fail(
          plan,
          `the integration failed: ${failure && 'error' in failure ? failure.error : 'no result'}`,
        );
        return;
      }
      await this.events.append(plan.id, {
        type: 'merge',
        key: null,
        commits,
        result: 'merged',
        files: [],
      });
      const evidence = await planEvidence(this.#repository, plan, {
        mergeOrder: order,
        tickets,
        integrated,
        startedAt,
      });
      await this.#repository.putPlanEvidence(evidence);
      const tests = integrated.tests;
      const testWords = !tests
        ? 'no test command'
        : tests.exitCode === 0
          ? 'tests passed'
          : `tests failed (${tests.timedOut ? 'timed out' : `exit ${tests.exitCode}`})`;
      const results = integrated.criteria.flatMap((each) => each.results);
      const met = results.filter((result) => result.status === 'met').length;
      await this.transition(
        plan,
        'awaiting_review',
        `${plan.tickets.length} tickets approved and integrated; ${testWords}; ${met} of ${results.length} criteria verified met on the integration`,
        {
          integration: {
            workspace: integrated.workspace,
            commit: integrated.commit,
            tree: integrated.tree,
          },
        },
      );
    });
  }

  /**
   * The plan's results conflict when integrated: a `resolve-integration` ticket (depending on
   * every other) is added in `conflict`, and the plan is blocked until it is retried.
   */
  async #integrationConflict(plan: PlanRecord, files: string[]): Promise<void> {
    let item = plan.tickets.find((each) => each.key === resolveIntegrationKey);
    const dependsOn = plan.tickets
      .filter((each) => each.key !== resolveIntegrationKey)
      .map((each) => each.key);
    if (!item) {
      const spec = {
        key: resolveIntegrationKey,
        title: `Resolve the integration conflicts in ${files.join(', ')}`,
        request: `The approved results of this plan's tickets (${dependsOn.join(', ')}) conflict when merged together. Make them work together.`,
        criteria: [{ text: "The project's tests pass with every ticket's result merged" }],
        dependsOn,
      };
      const ticket = await this.#tickets.create(
        plan.owner,
        {
          project: plan.project,
          title: spec.title,
          request: spec.request,
          criteria: spec.criteria,
        },
        { plan: plan.id },
      );
      item = {
        ...spec,
        state: 'conflict',
        reason: null,
        ticket: ticket.id,
        ticketStatus: ticket.status,
        usage: noUsage,
        conflictFiles: files,
      };
      plan.tickets.push(item);
      this.track({ ...plan, tickets: [item] });
    }
    const from = item.state;
    item.state = 'conflict';
    item.conflictFiles = files;
    item.reason = `the integration conflicts in ${files.join(', ')}`;
    await this.saveItems(plan, [{ key: item.key, from, to: 'conflict', reason: item.reason }]);
    await this.transition(
      plan,
      'blocked',
      `the integration conflicts in ${files.join(', ')}: mags plan retry ${plan.id} ${resolveIntegrationKey} has an agent resolve it`,
    );
  }

  /** The plan fails (its budget, the integration): its queued and running tickets are stopped. */
  async fail(plan: PlanRecord, reason: string): Promise<PlanRecord> {
    const failed = await this.transition(plan, 'failed', reason);
    void this.stopTickets(failed, { by: `plan ${plan.id}`, reason });
    return failed;
  }

  /**
   * Stops the plan's queued and running tickets, in the background (a stop waits for the
   * attempt); once they stopped, a plan still stopped or failed is no longer followed here.
   */
  stopTickets(plan: PlanRecord, options: { by: string; reason: string }): Promise<void> {
    const stops = plan.tickets.flatMap((item) =>
      item.ticket && (item.ticketStatus === 'queued' || item.ticketStatus === 'running')
        ? [this.#tickets.stop(plan.owner, item.ticket, options).then(() => {})]
        : [],
    );
    const all = Promise.all(stops)
      .then(() =>
        // After the items followed the stops (queued behind them on the plan's lock).
        this.locked(plan.id, async () => {
          const current = await this.#repository.getPlan(plan.owner, plan.id);
          if (current && (current.status === 'stopped' || current.status === 'failed')) {
            this.#forget(current);
          }
        }),
      )
      .then(() => {});
    this.background(`plan ${plan.id}: stopping its tickets`, all);
    return all.catch(() => {});
  }

  /** Records the plan's tickets in flight; when the owner's count drops, their other plans move on. */
  #syncSlots(plan: PlanRecord): void {
    if (!this.#slots.sync(plan) || this.closing) return;
    for (const [other, owner] of this.#driven) {
      if (owner !== plan.owner || other === plan.id) continue;
      this.locked(other, async () => {
        const current = await this.#repository.getPlan(owner, other);
        if (current?.status === 'running') await this.advance(current);
      }).catch((error: unknown) => this.#options.log(`plan ${other}: ${(error as Error).message}`));
    }
  }

  /** Arms the plan's wall-time budget timer (again: after a retry). */
  armWallTimer(plan: PlanRecord): void {
    this.#wallTimers.arm(plan);
  }

  /** The wall-time budget ran out: the plan fails, checked again under its lock. */
  #wallTimeUp(plan: PlanRecord): void {
    if (this.closing) return;
    this.locked(plan.id, async () => {
      const current = await this.#repository.getPlan(plan.owner, plan.id);
      if (current?.status === 'running' || current?.status === 'blocked') {
        await this.advance(current);
      } else if (current?.status === 'integrating') {
        const spent = planBudgetExceeded(current.budget, current.usage, current.approvedAt);
        if (spent) await this.fail(current, spent);
      }
    }).catch((error: unknown) => this.#options.log(`plan ${plan.id}: ${(error as Error).message}`));
  }

  /** Stops reacting: merges and integrations in progress are aborted and waited for. */
  async shutdown(): Promise<void> {
    this.shutdownSignal.abort();
    this.#unsubscribe();
    this.#wallTimers.clearAll();
    while (this.#background.size > 0) await Promise.all([...this.#background]);
  }
}

type Merged = Awaited<ReturnType<PlanGit['forkMerged']>>;
type Integrated = Awaited<ReturnType<PlanGit['integrate']>>;
