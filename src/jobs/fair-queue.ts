import { RateLimitError } from '../errors/mags-error.ts';

export interface FairQueueOptions {
  /** Slots shared by every owner (jobs running at once on this host). */
  limit: number;
  /** Slots one owner may hold at once, counting `enter`ed holders too. */
  perOwnerActive: number;
  /** Waiters one owner may have queued; one more is refused, never queued without end. */
  perOwnerWaiting: number;
  /** The Retry-After a refusal suggests. */
  retryAfterSeconds?: number;
}

/** A place in the queue: `granted` settles when it holds a slot; `release` gives it up. */
export interface Ticket {
  readonly granted: Promise<void>;
  /** Frees the slot, or leaves the queue when not granted yet. Idempotent. */
  release(): void;
}

interface OwnerState {
  /** Host slots held. */
  active: number;
  /** Held outside the host slots (`enter`): counted against the owner's own limit only. */
  entered: number;
  waiters: Array<() => void>;
}

/**
 * Slots handed out fairly across owners: when one frees, the waiting owner (under its own
 * limit) that holds the fewest slots gets it, round-robin among equals, so an owner with 500
 * queued jobs delays another owner's job by at most until the next slot frees, not by its
 * whole backlog (a FIFO queue would). Within an owner, first come first served. Over an owner's limits a request is refused at once with a
 * RateLimitError (HTTP 429 and Retry-After) instead of waiting.
 */
export class FairQueue {
  readonly limit: number;
  readonly #options: FairQueueOptions;
  readonly #owners = new Map<string, OwnerState>();
  /** Owners with waiters, in turn order: the first is served next. */
  readonly #turns: string[] = [];
  #active = 0;
  #waiting = 0;

  constructor(options: FairQueueOptions) {
    this.#options = options;
    this.limit = options.limit;
  }

  get perOwnerActive(): number {
    return this.#options.perOwnerActive;
  }

  get perOwnerWaiting(): number {
    return this.#options.perOwnerWaiting;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting;
  }

  /** One owner's figures: slots held (jobs running, `enter`ed ones included) and waiters. */
  countsFor(owner: string): { active: number; waiting: number } {
    const state = this.#owners.get(owner);
    return {
      active: state ? state.active + state.entered : 0,
      waiting: state?.waiters.length ?? 0,
    };
  }

  /** Queues for a host slot; throws a RateLimitError at once when the owner's queue is full. */
  enqueue(owner: string): Ticket {
    const state = this.#state(owner);
    const { perOwnerActive, perOwnerWaiting } = this.#options;
    const canRun = this.#active < this.limit && state.active + state.entered < perOwnerActive;
    if (!canRun && state.waiters.length >= perOwnerWaiting) {
      this.#forget(owner, state);
      throw this.#refusal(
        `Owner ${JSON.stringify(owner)} already has ${state.waiters.length} jobs queued, the most one owner may.`,
        'queued_jobs',
        perOwnerWaiting,
        'Wait for some to finish (mags list --status queued), or stop some (mags stop ID).',
      );
    }
    let grant!: () => void;
    const granted = new Promise<void>((resolve) => {
      grant = resolve;
    });
    let held = false;
    let done = false;
    const waiter = () => {
      held = true;
      grant();
    };
    if (this.#waiting === 0 && canRun) {
      this.#take(state);
      waiter();
    } else {
      state.waiters.push(waiter);
      this.#waiting++;
      if (state.waiters.length === 1) this.#turns.push(owner);
      this.#dispatch();
    }
    return {
      granted,
      release: () => {
        if (done) return;
        done = true;
        if (held) {
          state.active--;
          this.#active--;
        } else {
          const index = state.waiters.indexOf(waiter);
          if (index >= 0) {
            state.waiters.splice(index, 1);
            this.#waiting--;
            if (state.waiters.length === 0) this.#turns.splice(this.#turns.indexOf(owner), 1);
          }
        }
        this.#forget(owner, state);
        this.#dispatch();
      },
    };
  }

  /**
   * Holds one of the owner's own slots without a host slot (an exec in a sandbox the owner
   * already has): granted at once, or refused when the owner is at its limit.
   */
  enter(owner: string): Ticket {
    const state = this.#state(owner);
    if (state.active + state.entered >= this.#options.perOwnerActive) {
      this.#forget(owner, state);
      throw this.#refusal(
        `Owner ${JSON.stringify(owner)} already has ${state.active + state.entered} jobs running, the most one owner may.`,
        'running_jobs',
        this.#options.perOwnerActive,
        'Wait for one to finish, or stop one (mags list --status running; mags stop ID).',
      );
    }
    state.entered++;
    let done = false;
    return {
      granted: Promise.resolve(),
      release: () => {
        if (done) return;
        done = true;
        state.entered--;
        this.#forget(owner, state);
        this.#dispatch(); // the owner may be under its limit again, with runs waiting
      },
    };
  }

  /**
   * Hands free slots out: to the waiting owner holding the fewest slots, and among equals to the
   * one whose turn it is, so a newcomer's first job goes before a flooder's next one.
   */
  #dispatch(): void {
    while (this.#active < this.limit) {
      let index = -1;
      let fewest = Number.POSITIVE_INFINITY;
      this.#turns.forEach((owner, position) => {
        const state = this.#owners.get(owner) as OwnerState;
        const holding = state.active + state.entered;
        if (holding < this.#options.perOwnerActive && holding < fewest) {
          index = position;
          fewest = holding;
        }
      });
      if (index < 0) return;
      const owner = this.#turns[index] as string;
      const state = this.#owners.get(owner) as OwnerState;
      const next = state.waiters.shift() as () => void;
      this.#waiting--;
      // Served: to the back of the turn order if it has more waiting.
      this.#turns.splice(index, 1);
      if (state.waiters.length > 0) this.#turns.push(owner);
      this.#take(state);
      next();
    }
  }

  #take(state: OwnerState): void {
    state.active++;
    this.#active++;
  }

  #state(owner: string): OwnerState {
    let state = this.#owners.get(owner);
    if (!state) {
      state = { active: 0, entered: 0, waiters: [] };
      this.#owners.set(owner, state);
    }
    return state;
  }

  /** Owners come and go; an idle one leaves no entry behind. */
  #forget(owner: string, state: OwnerState): void {
    if (state.active + state.entered + state.waiters.length === 0) this.#owners.delete(owner);
  }

  #refusal(message: string, limit: string, value: number, hint: string): RateLimitError {
    return new RateLimitError(message, {
      code: 'owner_limit_reached',
      limit,
      limitValue: value,
      retryAfterSeconds: this.#options.retryAfterSeconds ?? 5,
      hint,
    });
  }
}
