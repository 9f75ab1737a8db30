import type { PlanStatus, PlanTicket } from '../api/plans.ts';
import type { Budget, TicketEvent } from '../api/tickets.ts';
import type { ServerInstance } from '../config/server-instance.ts';
import type { PlanRecord, PlanUpdate, StateRepository } from '../state/state-repository.ts';
import type { TicketLock } from '../tickets/ticket-lock.ts';
import type { TicketManager } from '../tickets/ticket-manager.ts';
import { followTickets, readPlanLog } from './follow-plan-tickets.ts';
import { OwnerSlots } from './owner-slots.ts';
import { advancePlan, type TicketChange, ticketChanged } from './plan-advance.ts';
import { maybeAutoApprove } from './plan-auto-approval.ts';
import { budgetWithinPlan, planBudgetExceeded } from './plan-budget.ts';
import { PlanEventLog } from './plan-event-log.ts';
import { integratePlan } from './plan-integration.ts';
import type { ItemChange } from './plan-items.ts';
import type { PlanGit } from './plan-parts.ts';
import type { PlanSettings } from './plan-settings.ts';
import { PlanTicketMirror } from './plan-ticket-mirror.ts';
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

/**
 * What moves an approved plan along: its tickets' events (mirrored into the plan's log, and their
 * status and usage into its items), dispatch of the ready tickets within the plan's and the
 * owner's limits (a ticket with dependencies starts from their results merged: `PlanGit`), the
 * plan's own status (blocked, integrating, awaiting review), auto-approval, the plan budget and
 * the integration. Every change of a plan is made under its lock after reading it again.
 */
export class PlanDispatch {
  readonly events: PlanEventLog;
  readonly options: PlanDispatchOptions;
  readonly #repository: StateRepository;
  readonly #mirror: PlanTicketMirror;
  /** The tickets in flight per owner, across their plans (`maxParallelPerOwner`). */
  readonly slots = new OwnerSlots();
  /** Plan id → owner, for plans running or blocked here (poked when an owner's slot frees). */
  readonly #driven = new Map<string, string>();
  readonly #wallTimers: PlanWallTimers;
  /** `plan/key` of the merges running in this process (any other `merging` item was cut off). */
  readonly merges = new Set<string>();
  /** Plan id → the abort of its merges and integration in progress (a stop, close or failure). */
  readonly #aborts = new Map<string, AbortController>();
  readonly #background = new Set<Promise<unknown>>();
  /** Aborted at shutdown: merges and integrations in progress stop (recovery takes them up). */
  readonly shutdownSignal = new AbortController();
  readonly #unsubscribe: () => void;

  constructor(options: PlanDispatchOptions) {
    this.options = options;
    this.#repository = options.repository;
    this.events = new PlanEventLog(options.repository);
    this.#mirror = new PlanTicketMirror({
      repository: options.repository,
      events: this.events,
      log: options.log,
    });
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
    return this.options.lock.run(planId, work);
  }

  /** Work that goes on after the request that started it; logged if it fails, awaited at shutdown. */
  background(what: string, work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => {
      this.options.log(`${what}: ${(error as Error).message}`);
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
      ...(moving ? { host: this.options.instance.host, server: this.options.instance.server } : {}),
      status: to,
      reason,
      updatedAt: new Date().toISOString(),
    };
    await this.events.append(plan.id, { type: 'plan_status', from: plan.status, to, reason });
    const { id: _id, owner: _owner, project: _project, createdAt: _createdAt, ...rest } = next;
    await this.#repository.updatePlan(plan.id, rest);
    this.events.recordChanged(plan);
    if (to === 'running' || to === 'blocked') this.#driven.set(plan.id, plan.owner);
    else this.#driven.delete(plan.id);
    if (to !== 'running' && to !== 'blocked' && to !== 'integrating') {
      this.#wallTimers.clear(plan.id);
      // Its merges and integration in progress stop; their forks are discarded where they end.
      this.#aborts.get(plan.id)?.abort();
      this.#aborts.delete(plan.id);
      // A closed plan's tickets are closed; a stopped or failed one's are forgotten once they
      // stopped (`stopTickets`), and tracked again if it is retried.
      if (to === 'approved' || to === 'closed') this.#mirror.forget(next);
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
    this.events.recordChanged(plan);
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
    this.#mirror.track(plan, afterEvents);
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
    return this.merges.has(`${planId}/${key}`);
  }

  /** Deletes a fork made by `forkMerged` or `integrate` that is not used; failures are logged. */
  async discard(owner: string, project: string, workspace: string): Promise<void> {
    try {
      await this.options.git.discard(owner, project, workspace);
    } catch (error) {
      this.options.log(`workspace ${workspace} not discarded: ${(error as Error).message}`);
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
    return this.#mirror.entry(ticketId) !== undefined;
  }

  #ticketEvent(ticketId: string, event: TicketEvent): void {
    const entry = this.#mirror.entry(ticketId);
    if (!entry || this.closing) return;
    void this.#mirror.mirror(entry.plan, entry.key, ticketId, event);
    const data = event.data;
    if (data.type !== 'status' && data.type !== 'usage') return;
    // From the event, not the record: the event is told before the record is written.
    const change: TicketChange =
      data.type === 'status' ? { status: data.to, reason: data.reason } : { usage: data.total };
    this.locked(entry.plan, () => ticketChanged(this, entry, ticketId, change)).catch(
      (error: unknown) => {
        this.options.log(`plan ${entry.plan}: ${(error as Error).message}`);
      },
    );
  }

  /** With `autoApprove`, a ticket awaiting review whose evidence passed is approved (not here: after). */
  maybeAutoApprove(plan: PlanRecord, item: PlanTicket): void {
    maybeAutoApprove(this, plan, item);
  }

  /**
   * Moves a running (or blocked) plan on, under its lock, from `plan` as just read and changed:
   * the budget, blocked items, the ready ones started within the limits, then the plan's status.
   * Stores the items (and the plan's status if it changes). Returns the plan as stored.
   */
  advance(plan: PlanRecord): Promise<PlanRecord> {
    return advancePlan(this, plan);
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

  /** The integration of a plan whose tickets are all approved (`plan-integration.ts`). */
  integrate(plan: PlanRecord): Promise<void> {
    return integratePlan(this, plan);
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
        ? [this.options.tickets.stop(plan.owner, item.ticket, options).then(() => {})]
        : [],
    );
    const all = Promise.all(stops)
      .then(() =>
        // After the items followed the stops (queued behind them on the plan's lock).
        this.locked(plan.id, async () => {
          const current = await this.#repository.getPlan(plan.owner, plan.id);
          if (current && (current.status === 'stopped' || current.status === 'failed')) {
            this.#mirror.forget(current);
          }
        }),
      )
      .then(() => {});
    this.background(`plan ${plan.id}: stopping its tickets`, all);
    return all.catch(() => {});
  }

  /** Records the plan's tickets in flight; when the owner's count drops, their other plans move on. */
  #syncSlots(plan: PlanRecord): void {
    if (!this.slots.sync(plan) || this.closing) return;
    for (const [other, owner] of this.#driven) {
      if (owner !== plan.owner || other === plan.id) continue;
      this.locked(other, async () => {
        const current = await this.#repository.getPlan(owner, other);
        if (current?.status === 'running') await this.advance(current);
      }).catch((error: unknown) => this.options.log(`plan ${other}: ${(error as Error).message}`));
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
    }).catch((error: unknown) => this.options.log(`plan ${plan.id}: ${(error as Error).message}`));
  }

  /** Stops reacting: merges and integrations in progress are aborted and waited for. */
  async shutdown(): Promise<void> {
    this.shutdownSignal.abort();
    this.#unsubscribe();
    this.#wallTimers.clearAll();
    while (this.#background.size > 0) await Promise.all([...this.#background]);
  }
}
