import type { CronSchedule } from './cron-schedule.ts';

/** setTimeout's longest delay (about 24.8 days); a later time is reached in steps. */
const maxDelayMs = 2 ** 31 - 1;

/**
 * Calls `fire` at each time a schedule names, one at a time: the next time is computed after the
 * previous call's promise settles (from the time it was due, so a slow call skips the times it
 * overran instead of piling them up; the caller sees `scheduledAt` and decides about overlap and
 * missed runs). The caller keeps the last time in its state, so a restarted server starts the
 * timer after it (`start(after)`) and never fires a time twice.
 */
export class ScheduleTimer {
  readonly #schedule: CronSchedule;
  readonly #fire: (scheduledAt: Date) => Promise<void>;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #next: Date | null = null;

  constructor(
    schedule: CronSchedule,
    fire: (scheduledAt: Date) => Promise<void>,
    options: { now?: () => number } = {},
  ) {
    this.#schedule = schedule;
    this.#fire = fire;
    this.#now = options.now ?? Date.now;
  }

  /** The next time it fires, or null when stopped or the schedule names no more. */
  get next(): Date | null {
    return this.#stopped ? null : this.#next;
  }

  /**
   * Arms it for the first time after `after` (default now). With `catchUp`, that time may be
   * past already (it fires at once): a caller that handled the missed times up to `after` and
   * then arms a moment later loses none between the two.
   */
  start(after: Date = new Date(this.#now()), options: { catchUp?: boolean } = {}): void {
    this.#stopped = false;
    if (options.catchUp) {
      this.#next = this.#schedule.nextAfter(after);
      this.#wait();
      return;
    }
    this.#arm(after);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(after: Date): void {
    if (this.#stopped) return;
    // Never a time already past: after downtime or a slow call the next one is in the future.
    const now = new Date(this.#now());
    this.#next = this.#schedule.nextAfter(after > now ? after : now);
    this.#wait();
  }

  #wait(): void {
    const due = this.#next;
    if (this.#stopped || !due) return;
    const delayMs = due.getTime() - this.#now();
    this.#timer = setTimeout(
      () => {
        if (this.#now() < due.getTime()) {
          this.#wait(); // a step of a long wait, or a timer that woke early
          return;
        }
        this.#fire(due)
          .catch(() => {}) // the caller records its own failures
          .finally(() => this.#arm(due));
      },
      Math.min(Math.max(delayMs, 0), maxDelayMs),
    );
    this.#timer.unref();
  }
}
