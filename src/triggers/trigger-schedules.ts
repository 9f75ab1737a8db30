import { parseCronSchedule } from '../config/cron-schedule.ts';
import { missedTimes } from '../config/missed-times.ts';
import { ScheduleTimer } from '../config/schedule-timer.ts';
import type { StateRepository, TriggerRecord } from '../state/state-repository.ts';
import type { TriggerFirer } from './trigger-firing.ts';

/**
 * One ScheduleTimer per active schedule trigger. The time each waits for is stored as the
 * trigger's `nextFireAt`, so a server started after downtime knows which times it missed and
 * applies the trigger's policy once: `skip` records one `missed` firing with their count, `once`
 * fires one `catch_up` firing; then the timer goes on from now. Every scheduled time is claimed
 * with its firing (claimFiring): two servers on one state fire each time once.
 */
export class TriggerSchedules {
  readonly #repository: StateRepository;
  readonly #firer: TriggerFirer;
  readonly #log: (line: string) => void;
  readonly #now: () => Date;
  readonly #timers = new Map<string, ScheduleTimer>();

  constructor(options: {
    repository: StateRepository;
    firer: TriggerFirer;
    log: (line: string) => void;
    now?: () => Date;
  }) {
    this.#repository = options.repository;
    this.#firer = options.firer;
    this.#log = options.log;
    this.#now = options.now ?? (() => new Date());
  }

  /** Arms every unpaused schedule trigger, after recording what was missed while down. */
  async start(): Promise<void> {
    for (const trigger of await this.#repository.listTriggers({ kind: 'schedule' })) {
      if (trigger.paused) continue;
      try {
        // One `now` for both: a time between the catch-up and the arming is fired, not lost.
        const now = this.#now();
        await this.#catchUp(trigger, now);
        await this.arm(trigger, now);
      } catch (error) {
        this.#log(`trigger ${trigger.id}: schedule not armed: ${(error as Error).message}`);
      }
    }
  }

  /**
   * Starts (or restarts) its timer from now, and stores the time it waits for. With `caughtUpTo`
   * (the start's catch-up), from that time even if it has just passed.
   */
  async arm(trigger: TriggerRecord, caughtUpTo?: Date): Promise<void> {
    const spec = trigger.spec.schedule;
    if (!spec) return;
    this.disarm(trigger.id);
    const schedule = parseCronSchedule(spec.cron, spec.timezone);
    const timer = new ScheduleTimer(
      schedule,
      async (scheduledAt) => {
        // The next time is stored first: a server stopped during this firing does not count this
        // time as missed.
        const now = this.#now();
        const next = schedule.nextAfter(new Date(Math.max(scheduledAt.getTime(), now.getTime())));
        await this.#repository.updateTrigger(trigger.id, {
          nextFireAt: next?.toISOString() ?? null,
        });
        try {
          await this.#firer.fire(trigger, { source: 'schedule', scheduledAt });
        } catch (error) {
          this.#log(`trigger ${trigger.id}: scheduled firing failed: ${(error as Error).message}`);
        }
      },
      // The manager's clock (a test's, or the real one) for what is due.
      { now: () => this.#now().getTime() },
    );
    this.#timers.set(trigger.id, timer);
    if (caughtUpTo) timer.start(caughtUpTo, { catchUp: true });
    else timer.start(this.#now());
    await this.#repository.updateTrigger(trigger.id, {
      nextFireAt: timer.next?.toISOString() ?? null,
    });
  }

  disarm(triggerId: string): void {
    this.#timers.get(triggerId)?.stop();
    this.#timers.delete(triggerId);
  }

  stop(): void {
    for (const timer of this.#timers.values()) timer.stop();
    this.#timers.clear();
  }

  async #catchUp(trigger: TriggerRecord, now: Date): Promise<void> {
    const spec = trigger.spec.schedule;
    if (!spec || !trigger.nextFireAt) return;
    const schedule = parseCronSchedule(spec.cron, spec.timezone);
    // The stored next time is the first missed one (missedTimes counts those after its `after`).
    const after = new Date(new Date(trigger.nextFireAt).getTime() - 1);
    const missed = missedTimes(schedule, after, now);
    if (!missed) return;
    const { first, last } = missed;
    const count = `${missed.countIsLowerBound ? 'at least ' : ''}${missed.count}`;
    const times = `${count} scheduled time${missed.count === 1 ? '' : 's'} (${first.toISOString()}${missed.count > 1 ? ` to ${last.toISOString()}` : ''})`;
    // Each claims the last missed time: a second server starting on the same state records nothing.
    if (spec.catchUp === 'once') {
      await this.#firer.fire(trigger, {
        source: 'catch_up',
        scheduledAt: last,
        payload: {
          missed: missed.count,
          countIsLowerBound: missed.countIsLowerBound,
          from: first.toISOString(),
          to: last.toISOString(),
        },
      });
      return;
    }
    await this.#firer.record(trigger, {
      source: 'schedule',
      status: 'missed',
      reason: `${times} passed while the server was down; catchUp is skip`,
      scheduledAt: last,
    });
  }
}
