import { isPlanMoving, type PlanEvent, type PlanEventData } from '../api/plans.ts';
import { KeyedQueue } from '../config/keyed-queue.ts';
import type { StateRepository } from '../state/state-repository.ts';

/**
 * A plan's events: each appended durably in the order it was asked for (one chain per plan, which
 * other work on the log can join: `enqueue`), then announced to live followers, who read from
 * the repository and wait here for the next append (as `TicketEventLog` does for tickets).
 */
export class PlanEventLog {
  readonly #repository: StateRepository;
  readonly #turns = new KeyedQueue();
  readonly #versions = new Map<string, number>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #recordListeners = new Set<(owner: string, planId: string) => void>();

  constructor(repository: StateRepository) {
    this.#repository = repository;
  }

  append(planId: string, data: PlanEventData): Promise<PlanEvent> {
    return this.enqueue(planId, () => this.appendNow(planId, data));
  }

  /**
   * Stores one event now; only for work that `enqueue` runs (it holds the plan's turn), so that
   * the order of the chain is kept.
   */
  async appendNow(planId: string, data: PlanEventData): Promise<PlanEvent> {
    try {
      return await this.#repository.appendPlanEvent(planId, { at: new Date().toISOString(), data });
    } finally {
      this.touch(planId);
    }
  }

  /** Runs `work` in the plan's turn: after every append (and work) asked for before it. */
  enqueue<T>(planId: string, work: () => Promise<T>): Promise<T> {
    return this.#turns.run(planId, work);
  }

  version(planId: string): number {
    return this.#versions.get(planId) ?? 0;
  }

  /** Resolves when the plan changed since `version` was read, after `timeoutMs`, or on `signal`. */
  changed(
    planId: string,
    version: number,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<void> {
    if (this.version(planId) !== version || options.signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(planId);
      if (!waiters) {
        waiters = new Set();
        this.#waiters.set(planId, waiters);
      }
      const done = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(planId) === waiters) {
          this.#waiters.delete(planId);
        }
        resolve();
      };
      const timer = setTimeout(done, options.timeoutMs);
      options.signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  /**
   * Calls `listener` with the owner and id of each plan whose record was stored (made, its
   * status, its tickets' progress or its usage changed); returns the unsubscribe.
   */
  onRecordChange(listener: (owner: string, planId: string) => void): () => void {
    this.#recordListeners.add(listener);
    return () => this.#recordListeners.delete(listener);
  }

  /** The plan's record was stored: its followers wake, and the record's listeners are told. */
  recordChanged(plan: { owner: string; id: string }): void {
    this.touch(plan.id);
    for (const listener of [...this.#recordListeners]) listener(plan.owner, plan.id);
  }

  /** Wakes the plan's followers (an event was stored, or its record changed). */
  touch(planId: string): void {
    this.#versions.set(planId, this.version(planId) + 1);
    for (const waiter of [...(this.#waiters.get(planId) ?? [])]) waiter();
  }
}

const pageSize = 500;
/** How long a follower waits before looking again without news (another process may append). */
const pollMs = 2000;

/**
 * A plan's stored events after `after`, in order; with `follow`, also those appended later,
 * until the plan is settled (`isPlanMoving`: an `auto` draft is followed into its run). The
 * caller checked the owner.
 */
export async function* followPlanEvents(
  repository: StateRepository,
  log: PlanEventLog,
  plan: { owner: string; id: string },
  options: { after?: number; follow?: boolean; signal?: AbortSignal },
): AsyncGenerator<PlanEvent> {
  let cursor = options.after ?? 0;
  for (;;) {
    // Read before the page: an event stored while the page is read changes it, and is not missed.
    const version = log.version(plan.id);
    const page = await repository.readPlanEvents(plan.id, cursor, pageSize);
    for (const event of page) {
      yield event;
      cursor = event.id;
    }
    if (page.length === pageSize) continue;
    if (!options.follow || options.signal?.aborted) return;
    const record = await repository.getPlan(plan.owner, plan.id);
    if (!record || !isPlanMoving(record)) {
      // Its status event is stored before its record: what is left is read to the end.
      yield* await repository.readPlanEvents(plan.id, cursor, Number.MAX_SAFE_INTEGER);
      return;
    }
    await log.changed(plan.id, version, { timeoutMs: pollMs, signal: options.signal });
  }
}
