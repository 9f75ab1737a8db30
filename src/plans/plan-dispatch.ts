import { randomUUID } from 'node:crypto';
import { addUsage } from '../agents/token-usage.ts';
import type { PlanEventData, PlanStatus, PlanTicket } from '../api/plans.ts';
import type { TicketEvent, TokenUsage } from '../api/tickets.ts';
import type { ServerInstance } from '../config/server-instance.ts';
import type {
  PlanRecord,
  PlanUpdate,
  StateRepository,
  TicketRecord,
} from '../state/state-repository.ts';
import type { TicketLock } from '../tickets/ticket-lock.ts';
import type { TicketManager } from '../tickets/ticket-manager.ts';
import { planBudgetExceeded, wallTimeLeftMs } from './plan-budget.ts';
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
import { type ApprovedResult, MergeConflictError, type PlanGit } from './plan-parts.ts';
import type { PlanSettings } from './plan-settings.ts';

export interface PlanDispatchOptions {
  repository: StateRepository;
  tickets: TicketManager;
  git: PlanGit;
  settings: PlanSettings;
  instance: ServerInstance;
  /** One state change per plan at a time (a `TicketLock` keyed by plan id). */
  lock: TicketLock;
  log(line: string): void;
}

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
  /** Owner → `plan/key` of their plans' tickets in flight (MAGS_PLAN_MAX_PARALLEL_PER_OWNER). */
  readonly #slots = new Map<string, Set<string>>();
  /** Plan id → owner, for plans running or blocked here (poked when an owner's slot frees). */
  readonly #driven = new Map<string, string>();
  readonly #wallTimers = new Map<string, NodeJS.Timeout>();
  readonly #background = new Set<Promise<unknown>>();
  /** Aborted at shutdown: merges and integrations in progress stop (recovery takes them up). */
  readonly shutdownSignal = new AbortController();
  readonly #unsubscribe: () => void;

  constructor(options: PlanDispatchOptions) {
    this.#options = options;
    this.#repository = options.repository;
    this.#tickets = options.tickets;
    this.events = new PlanEventLog(options.repository);
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
    if (to !== 'running' && to !== 'blocked' && to !== 'integrating') this.#clearWallTimer(plan.id);
    if (to === 'approved' || to === 'closed') this.#forget(next);
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
    this.#armWallTimer(plan);
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
    if (event.data.type !== 'status' && event.data.type !== 'usage') return;
    this.locked(entry.plan, () => this.#ticketChanged(entry, ticketId)).catch((error: unknown) => {
      this.#options.log(`plan ${entry.plan}: ${(error as Error).message}`);
    });
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

  /** A status or usage event of a plan's ticket: its item follows its record, then the plan. */
  async #ticketChanged(entry: PlanTicketEntry, ticketId: string): Promise<void> {
    const plan = await this.#repository.getPlan(entry.owner, entry.plan);
    const item = plan?.tickets.find((each) => each.key === entry.key);
    if (!plan || !item || item.ticket !== ticketId) return;
    const ticket = await this.#repository.getTicket(entry.owner, ticketId);
    if (!ticket) return;
    const before = item.ticketStatus;
    followTicketStatus(item, ticket);
    if (!sameUsage(item.usage, ticket.usage)) {
      plan.usage = addUsage(plan.usage, difference(ticket.usage, item.usage));
      item.usage = ticket.usage;
      await this.events.append(plan.id, { type: 'usage', total: plan.usage });
    }
    if (ticket.status === 'awaiting_review' && before !== 'awaiting_review') {
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

  async #autoApprove(plan: PlanRecord, key: string, ticketId: string): Promise<void> {
    const evidence = await this.#repository.getEvidence(ticketId);
    const unmet = evidence?.criteria.filter((criterion) => criterion.status !== 'met') ?? [];
    const tests = evidence?.tests;
    const why = !evidence
      ? 'it has no evidence'
      : unmet.length > 0
        ? `${unmet.length} of ${evidence.criteria.length} criteria not verified met`
        : tests && tests.exitCode !== 0
          ? `its tests failed (${tests.timedOut ? 'timed out' : `exit ${tests.exitCode}`})`
          : null;
    if (why) {
      await this.notice(plan.id, `ticket ${key} (${ticketId}) waits for a person's review: ${why}`);
      return;
    }
    try {
      await this.#tickets.approve(plan.owner, ticketId, {});
    } catch (error) {
      await this.notice(
        plan.id,
        `ticket ${key} (${ticketId}) could not be approved automatically: ${(error as Error).message}`,
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
    const changes = settleBlocked(plan.tickets, order);
    for (const item of readyItems(plan.tickets, order)) {
      if (this.closing) break;
      if (plan.tickets.filter(inFlight).length >= plan.maxParallel) break;
      if (
        this.#ownerInFlight(plan.owner, plan.id, plan.tickets) >=
        this.#options.settings.maxParallelPerOwner
      ) {
        break;
      }
      changes.push(await this.#start(plan, item));
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
      this.background(
        `plan ${plan.id}: merge for ${item.key}`,
        this.#mergeAndStart(plan, item.key),
      );
      return { key: item.key, from, to: 'merging', reason: null };
    }
    return this.#queue(plan, item, undefined);
  }

  /** Queues the item's ticket (from `start`, the merged workspace, when given). */
  async #queue(
    plan: PlanRecord,
    item: PlanTicket,
    start: Awaited<ReturnType<PlanGit['forkMerged']>> | undefined,
  ): Promise<ItemChange> {
    const from = item.state;
    try {
      if (!item.ticket) throw new Error('it has no ticket');
      const queued = await this.#tickets.run(plan.owner, item.ticket, { plan: plan.id, start });
      item.state = 'dispatched';
      item.reason = null;
      item.ticketStatus = queued.status;
    } catch (error) {
      item.state = 'blocked';
      item.reason = `could not start: ${(error as Error).message}`;
    }
    return { key: item.key, from, to: item.state, reason: item.reason };
  }

  /**
   * Forks the project with the item's dependencies' approved results merged in (outside the
   * plan's lock: it takes a while), then, under the lock, queues its ticket from there, or records
   * the conflict. A plan stopped meanwhile drops the merge (the item waits again).
   */
  async #mergeAndStart(planAtStart: PlanRecord, key: string): Promise<void> {
    const { owner, project } = planAtStart;
    const order = checkPlanGraph(planAtStart);
    const item = planAtStart.tickets.find((each) => each.key === key);
    if (!item?.ticket) return;
    const results: ApprovedResult[] = [];
    for (const dependency of order.filter((each) => item.dependsOn.includes(each))) {
      const ticketId = planAtStart.tickets.find((each) => each.key === dependency)?.ticket;
      const ticket = ticketId ? await this.#repository.getTicket(owner, ticketId) : undefined;
      if (!ticket?.commit) throw new Error(`dependency ${dependency} has no approved commit`);
      results.push({ key: dependency, ticket: ticket.id, commit: ticket.commit });
    }
    let merged: Awaited<ReturnType<PlanGit['forkMerged']>> | undefined;
    let failure: { conflict: string[] } | { error: string } | undefined;
    try {
      merged = await this.#options.git.forkMerged(
        owner,
        project,
        `${item.ticket}-${randomUUID()}`,
        results,
        {
          signal: this.shutdownSignal.signal,
        },
      );
    } catch (error) {
      if (this.closing) return; // left `merging`: the next server process merges it again
      failure =
        error instanceof MergeConflictError
          ? { conflict: error.files }
          : { error: (error as Error).message };
    }
    await this.locked(planAtStart.id, async () => {
      const plan = await this.#repository.getPlan(owner, planAtStart.id);
      const current = plan?.tickets.find((each) => each.key === key);
      if (!plan || current?.state !== 'merging') return;
      const commits = results.map((result) => result.commit);
      const merge: PlanEventData = {
        type: 'merge',
        key,
        commits,
        result: failure && 'conflict' in failure ? 'conflict' : 'merged',
        files: failure && 'conflict' in failure ? failure.conflict : [],
      };
      if (!failure) await this.events.append(plan.id, merge);
      let change: ItemChange;
      if (plan.status !== 'running' && plan.status !== 'blocked') {
        current.state = 'waiting';
        change = { key, from: 'merging', to: 'waiting', reason: `its plan is ${plan.status}` };
      } else if (failure && 'conflict' in failure) {
        await this.events.append(plan.id, merge);
        current.state = 'conflict';
        current.conflictFiles = failure.conflict;
        current.reason = `its dependencies' results conflict in ${failure.conflict.join(', ')}`;
        change = { key, from: 'merging', to: 'conflict', reason: current.reason };
      } else if (failure) {
        current.state = 'blocked';
        current.reason = `could not merge its dependencies' results: ${failure.error}`;
        change = { key, from: 'merging', to: 'blocked', reason: current.reason };
      } else {
        change = await this.#queue(plan, current, merged);
      }
      await this.saveItems(plan, [change]);
      await this.advance(plan);
    });
  }

  /**
   * The integration of a plan whose tickets are all approved (outside its lock), then under it:
   * the plan's evidence and `awaiting_review`, or `blocked` by a conflict, or `failed`.
   */
  async integrate(planAtStart: PlanRecord): Promise<void> {
    const { owner, project } = planAtStart;
    const order = checkPlanGraph(planAtStart);
    const tickets = new Map<string, TicketRecord>();
    const results: ApprovedResult[] = [];
    for (const key of order) {
      const ticketId = planAtStart.tickets.find((each) => each.key === key)?.ticket;
      const ticket = ticketId ? await this.#repository.getTicket(owner, ticketId) : undefined;
      if (!ticket?.commit) throw new Error(`ticket ${key} has no approved commit`);
      tickets.set(key, ticket);
      results.push({ key, ticket: ticket.id, commit: ticket.commit });
    }
    const startedAt = new Date().toISOString();
    let integrated: Awaited<ReturnType<PlanGit['integrate']>> | undefined;
    let failure: { conflict: string[] } | { error: string } | undefined;
    try {
      integrated = await this.#options.git.integrate(
        owner,
        project,
        `${planAtStart.id}-integration-${randomUUID()}`,
        {
          baseCommit: planAtStart.baseCommit ?? '',
          results,
          signal: this.shutdownSignal.signal,
        },
      );
    } catch (error) {
      if (this.closing) return; // left `integrating`: the next server process integrates again
      failure =
        error instanceof MergeConflictError
          ? { conflict: error.files }
          : { error: (error as Error).message };
    }
    await this.locked(planAtStart.id, async () => {
      const plan = await this.#repository.getPlan(owner, planAtStart.id);
      if (plan?.status !== 'integrating') return;
      const commits = results.map((result) => result.commit);
      if (failure && 'conflict' in failure) {
        await this.events.append(plan.id, {
          type: 'merge',
          key: null,
          commits,
          result: 'conflict',
          files: failure.conflict,
        });
        await this.transition(
          plan,
          'blocked',
          `the integration conflicts in ${failure.conflict.join(', ')}`,
        );
        return;
      }
      if (failure || !integrated) {
        await this.transition(
          plan,
          'failed',
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
      await this.transition(
        plan,
        'awaiting_review',
        `${plan.tickets.length} tickets approved and integrated; ${testWords}`,
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

  /** The plan fails (its budget, the integration): its queued and running tickets are stopped. */
  async fail(plan: PlanRecord, reason: string): Promise<PlanRecord> {
    const failed = await this.transition(plan, 'failed', reason);
    void this.stopTickets(failed, { by: `plan ${plan.id}`, reason });
    return failed;
  }

  /** Stops the plan's queued and running tickets, in the background (a stop waits for the attempt). */
  stopTickets(plan: PlanRecord, options: { by: string; reason: string }): Promise<void> {
    const stops = plan.tickets.flatMap((item) =>
      item.ticket && (item.ticketStatus === 'queued' || item.ticketStatus === 'running')
        ? [this.#tickets.stop(plan.owner, item.ticket, options).then(() => {})]
        : [],
    );
    const all = Promise.all(stops).then(() => {});
    this.background(`plan ${plan.id}: stopping its tickets`, all);
    return all.catch(() => {});
  }

  /** The owner's tickets in flight over all their plans, this plan's as `items` say now. */
  #ownerInFlight(owner: string, planId: string, items: PlanTicket[]): number {
    const others = [...(this.#slots.get(owner) ?? [])].filter(
      (slot) => !slot.startsWith(`${planId}/`),
    );
    return others.length + items.filter(inFlight).length;
  }

  /** Records the plan's tickets in flight; when the owner's count drops, their other plans move on. */
  #syncSlots(plan: PlanRecord): void {
    const slots = this.#slots.get(plan.owner) ?? new Set<string>();
    const before = slots.size;
    for (const slot of [...slots]) if (slot.startsWith(`${plan.id}/`)) slots.delete(slot);
    if (plan.status === 'running' || plan.status === 'blocked') {
      for (const item of plan.tickets.filter(inFlight)) slots.add(`${plan.id}/${item.key}`);
    }
    this.#slots.set(plan.owner, slots);
    if (slots.size >= before || this.closing) return;
    for (const [other, owner] of this.#driven) {
      if (owner !== plan.owner || other === plan.id) continue;
      this.locked(other, async () => {
        const current = await this.#repository.getPlan(owner, other);
        if (current?.status === 'running') await this.advance(current);
      }).catch((error: unknown) => this.#options.log(`plan ${other}: ${(error as Error).message}`));
    }
  }

  /** Fails the plan when its wall-time budget runs out (checked again under its lock). */
  #armWallTimer(plan: PlanRecord): void {
    const leftMs = wallTimeLeftMs(plan.budget, plan.approvedAt);
    if (leftMs === null) return;
    this.#clearWallTimer(plan.id);
    const timer = setTimeout(() => {
      this.#wallTimers.delete(plan.id);
      this.locked(plan.id, async () => {
        const current = await this.#repository.getPlan(plan.owner, plan.id);
        if (current?.status === 'running' || current?.status === 'blocked')
          await this.advance(current);
        else if (current?.status === 'integrating') {
          const spent = planBudgetExceeded(current.budget, current.usage, current.approvedAt);
          if (spent) await this.fail(current, spent);
        }
      }).catch((error: unknown) =>
        this.#options.log(`plan ${plan.id}: ${(error as Error).message}`),
      );
    }, leftMs + 5);
    timer.unref();
    this.#wallTimers.set(plan.id, timer);
  }

  armWallTimer(plan: PlanRecord): void {
    this.#armWallTimer(plan);
  }

  #clearWallTimer(planId: string): void {
    clearTimeout(this.#wallTimers.get(planId));
    this.#wallTimers.delete(planId);
  }

  /** Stops reacting: merges and integrations in progress are aborted and waited for. */
  async shutdown(): Promise<void> {
    this.shutdownSignal.abort();
    this.#unsubscribe();
    for (const timer of this.#wallTimers.values()) clearTimeout(timer);
    this.#wallTimers.clear();
    while (this.#background.size > 0) await Promise.all([...this.#background]);
  }
}

function sameUsage(a: TokenUsage, b: TokenUsage): boolean {
  return (
    a.inputTokens === b.inputTokens &&
    a.outputTokens === b.outputTokens &&
    a.costUsd === b.costUsd &&
    a.steps === b.steps
  );
}

function difference(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    inputTokens: a.inputTokens - b.inputTokens,
    outputTokens: a.outputTokens - b.outputTokens,
    costUsd: a.costUsd - b.costUsd,
    steps: a.steps - b.steps,
  };
}
