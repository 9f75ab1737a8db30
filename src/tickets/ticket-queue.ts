import type { ServerInstance } from '../config/server-instance.ts';
import { FairQueue, type Ticket as QueueSlot } from '../jobs/fair-queue.ts';
import type { StateRepository, TicketRecord } from '../state/state-repository.ts';
import {
  type AttemptControl,
  type AttemptServices,
  haltAttempt,
  newAttemptControl,
  runTicketAttempt,
} from './ticket-attempt.ts';
import type { TicketLock } from './ticket-lock.ts';
import type { TicketRecorder } from './ticket-recorder.ts';
import type { StopStep } from './ticket-review.ts';
import { type PendingComment, unseenComments } from './unseen-comments.ts';

/** A ticket queued or running in this process. */
interface ActiveTicket {
  readonly control: AttemptControl;
  readonly slot: QueueSlot;
  /** Set by the grant (under the ticket's lock) when it moves the ticket to `running`. */
  started: boolean;
  /** Resolves when it is queued or running here no more. */
  readonly done: Promise<void>;
  readonly finish: () => void;
}

export interface TicketQueueOptions {
  /** Agents running at once on this server, and for one owner. */
  maxRunning: number;
  maxRunningPerOwner: number;
  repository: StateRepository;
  lock: TicketLock;
  recorder: TicketRecorder;
  instance: ServerInstance;
  /** What attempts need (their end, under the ticket's lock, is added here). */
  attempts: Omit<AttemptServices, 'finish'>;
  /** The project, role and model of a ticket about to be queued (a clear error if one is off). */
  checkRunnable(ticket: TicketRecord): Promise<void>;
  log(line: string): void;
}

/**
 * The tickets waiting for, and holding, one of the server's agent slots (a limit per server and
 * per owner, fairly shared between owners), and how they get there and leave: queued under the
 * ticket's lock, granted a slot (moved to `running` under the lock, then the attempt runs),
 * stopped or shut down.
 */
export class TicketQueue {
  readonly #queue: FairQueue;
  readonly #active = new Map<string, ActiveTicket>();
  readonly #options: TicketQueueOptions;
  readonly #attempts: AttemptServices;
  /** Shutting down: a ticket queued now stays queued for the next server process. */
  #closing = false;

  constructor(options: TicketQueueOptions) {
    this.#options = options;
    const { lock, recorder } = options;
    this.#attempts = {
      ...options.attempts,
      // An attempt's end, under the lock like every status change; from `running` only.
      finish: (ticket, to, reason) =>
        lock.run(ticket.id, async () => {
          const current = await recorder.require(ticket.owner, ticket.id, 'end', ['running']);
          return recorder.transition(current, to, reason);
        }),
    };
    this.#queue = new FairQueue({
      limit: options.maxRunning,
      perOwnerActive: options.maxRunningPerOwner,
      // A ticket waits as `queued` as long as it takes; none is refused for waiting.
      perOwnerWaiting: Number.POSITIVE_INFINITY,
    });
  }

  /**
   * Queues the next attempt; the caller holds the ticket's lock and has checked its status.
   * `update` (a new budget) is written with the status.
   */
  async queueAttempt(
    ticket: TicketRecord,
    update: Partial<TicketRecord> = {},
  ): Promise<TicketRecord> {
    const { instance } = this.#options;
    await this.#options.checkRunnable(ticket);
    const queued = await this.#options.recorder.transition(ticket, 'queued', null, {
      ...update,
      attempt: ticket.attempt + 1,
      host: instance.host,
      server: instance.server,
    });
    this.schedule(queued);
    return queued;
  }

  /** Waits for a slot for a queued ticket, then grants it (unless stopped while waiting). */
  schedule(ticket: TicketRecord): void {
    if (this.#closing) return;
    const control = newAttemptControl();
    const slot = this.#queue.enqueue(ticket.owner);
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const active: ActiveTicket = { control, slot, started: false, done, finish };
    this.#active.set(ticket.id, active);
    void slot.granted.then(async () => {
      if (control.abort.signal.aborted) return; // stopped while queued: `#leave` did the rest
      try {
        await this.#grant(ticket, active);
      } catch (error) {
        this.#options.log(`ticket ${ticket.id}: ${(error as Error).message}`);
      } finally {
        this.#leave(ticket.id, active);
      }
    });
  }

  /**
   * A person's comment on a ticket, stored: handed to its agent if an attempt runs here (before
   * its start, an attempt reads the comments from the log). The caller holds the ticket's lock.
   */
  commented(id: string, comment: PendingComment): void {
    const active = this.#active.get(id);
    if (active?.started) active.control.comments.push(comment);
  }

  /**
   * Stops a queued or running ticket; the caller holds its lock. With `skipEvidence` (it is being
   * closed), a running attempt assembles no evidence, or stops assembling it.
   */
  async stopLocked(
    ticket: TicketRecord,
    stoppedBy: string,
    options: { skipEvidence?: boolean } = {},
  ): Promise<StopStep> {
    const active = this.#active.get(ticket.id);
    if (active) haltAttempt(active.control, { stoppedBy, ...options });
    if (active?.started) return { wait: active.done };
    if (active) this.#leave(ticket.id, active);
    // Queued here, or queued or running in no live process (its server is gone): nothing runs.
    return { ticket: await this.#options.recorder.transition(ticket, 'stopped', stoppedBy) };
  }

  /** Resolves when the ticket is queued or running here no more. */
  async idle(id: string): Promise<void> {
    await this.#active.get(id)?.done;
  }

  /**
   * Aborts every running attempt (they fail) and waits for them; queued tickets stay queued, as
   * do those queued from now on (for the next server process to take up).
   */
  async shutdown(): Promise<void> {
    this.#closing = true;
    const running: Promise<void>[] = [];
    for (const [id, active] of this.#active) {
      haltAttempt(active.control, { shutdown: true });
      if (active.started) running.push(active.done);
      else this.#leave(id, active);
    }
    await Promise.all(running);
  }

  /**
   * A slot is free: under the ticket's lock, a ticket still queued (not stopped meanwhile) moves
   * to `running` and is given what its agent has not seen yet (the feedback, the comments); then
   * the attempt runs to its end.
   */
  async #grant(ticket: TicketRecord, active: ActiveTicket): Promise<void> {
    const { control } = active;
    const { recorder, repository } = this.#options;
    const running = await this.#options.lock.run(ticket.id, async () => {
      if (control.abort.signal.aborted) return undefined;
      const current = await repository.getTicket(ticket.owner, ticket.id);
      if (current?.status !== 'queued') return undefined;
      const told = unseenComments(
        await recorder.allEvents(ticket.id),
        current.commentsDeliveredThrough,
      );
      control.comments.push(...told.comments);
      if (told.feedback !== undefined) control.feedback = told.feedback;
      active.started = true;
      return recorder.transition(current, 'running', `attempt ${current.attempt}`);
    });
    if (running) await runTicketAttempt(this.#attempts, running, control);
  }

  /** Frees its slot (or its place in the line) and forgets it. */
  #leave(id: string, active: ActiveTicket): void {
    active.slot.release();
    if (this.#active.get(id) === active) this.#active.delete(id);
    active.finish();
  }
}
