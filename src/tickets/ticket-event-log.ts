import type { TicketEvent, TicketEventData } from '../api/tickets.ts';
import type { StateRepository, TicketRecord } from '../state/state-repository.ts';

/** Model text not stored yet: the deltas of one step, merged. */
interface PendingText {
  owner: string;
  attempt: number;
  step: number;
  text: string;
  timer: NodeJS.Timeout;
}

/**
 * Told of each stored event and whose ticket it is (a listener for one owner drops the others'
 * at no cost); it must not throw or block (it is called synchronously).
 */
export type TicketEventListener = (ticketId: string, event: TicketEvent, owner: string) => void;

/** The ticket an event is appended to: the attempt it belongs to, and whose it is. */
export type EventTicket = Pick<TicketRecord, 'id' | 'owner' | 'attempt'>;

/** How long model text is gathered before it is stored as one event (at most one per this). */
export const textFlushMs = 50;

/**
 * A ticket's events: each appended durably (in the order they were emitted, whether or not the
 * emitter awaited the previous one), then announced to live followers. A follower reads from the
 * repository and waits here for the next append, so what it sees is always what is stored.
 *
 * Model text streams in many small deltas; one stored event (one SQLite transaction) each would
 * cost more than the model's tokens are worth. Consecutive deltas of one step are merged and
 * stored every `textFlushMs`, and always before any other event of the ticket (so the order is
 * kept) and on `flushed`.
 */
export class TicketEventLog {
  readonly #repository: StateRepository;
  readonly #log: (line: string) => void;
  /** Per ticket: the last append in flight, so the next waits for it. */
  readonly #tails = new Map<string, Promise<unknown>>();
  /** Per ticket: bumped after each stored event; followers compare it. */
  readonly #versions = new Map<string, number>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #texts = new Map<string, PendingText>();
  readonly #listeners = new Set<TicketEventListener>();

  constructor(repository: StateRepository, log: (line: string) => void = () => {}) {
    this.#repository = repository;
    this.#log = log;
  }

  append(ticket: EventTicket, data: TicketEventData): Promise<TicketEvent> {
    this.#flushText(ticket.id);
    return this.#store(ticket, data);
  }

  /**
   * Model text: merged with the pending text of the same attempt and step, stored within
   * `textFlushMs` or before the ticket's next other event. Returns at once.
   */
  appendText(ticket: EventTicket, data: { step: number; text: string }): void {
    const pending = this.#texts.get(ticket.id);
    if (pending && pending.attempt === ticket.attempt && pending.step === data.step) {
      pending.text += data.text;
      return;
    }
    this.#flushText(ticket.id);
    const timer = setTimeout(() => this.#flushText(ticket.id), textFlushMs);
    timer.unref();
    const { owner, attempt } = ticket;
    this.#texts.set(ticket.id, { owner, attempt, step: data.step, text: data.text, timer });
  }

  #flushText(ticketId: string): void {
    const pending = this.#texts.get(ticketId);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#texts.delete(ticketId);
    const data = { type: 'text' as const, step: pending.step, text: pending.text };
    const ticket = { id: ticketId, owner: pending.owner, attempt: pending.attempt };
    this.#store(ticket, data).catch((error: unknown) => {
      this.#log(`ticket ${ticketId}: model text not stored: ${(error as Error).message}`);
    });
  }

  #store(ticket: EventTicket, data: TicketEventData): Promise<TicketEvent> {
    const { id: ticketId, attempt } = ticket;
    const previous = this.#tails.get(ticketId) ?? Promise.resolve();
    const stored = previous
      .catch(() => {})
      .then(() =>
        this.#repository.appendTicketEvent(ticketId, {
          attempt,
          at: new Date().toISOString(),
          data,
        }),
      );
    this.#tails.set(ticketId, stored);
    stored.then((event) => this.#tell(ticketId, event, ticket.owner)).catch(() => {});
    const settle = () => {
      if (this.#tails.get(ticketId) === stored) this.#tails.delete(ticketId);
      this.#announce(ticketId);
    };
    stored.then(settle, settle);
    return stored;
  }

  /**
   * Calls `listener` with every event stored from now on by this process, in each ticket's
   * order (plans and triggers react to their tickets this way). Returns the unsubscribe.
   */
  subscribe(listener: TicketEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #tell(ticketId: string, event: TicketEvent, owner: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(ticketId, event, owner);
      } catch (error) {
        this.#log(`ticket ${ticketId}: an event listener failed: ${(error as Error).message}`);
      }
    }
  }

  /** Resolves once every event appended so far for the ticket is stored (or failed). */
  async flushed(ticketId: string): Promise<void> {
    this.#flushText(ticketId);
    await this.#tails.get(ticketId)?.catch(() => {});
  }

  /** A number that changes whenever an event of the ticket is stored. */
  version(ticketId: string): number {
    return this.#versions.get(ticketId) ?? 0;
  }

  /**
   * Resolves when an event has been stored since `version` was read, or after `timeoutMs` (an
   * event stored by another server process is seen at the next look), or on `signal`.
   */
  changed(
    ticketId: string,
    version: number,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<void> {
    if (this.version(ticketId) !== version || options.signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(ticketId);
      if (!waiters) {
        waiters = new Set();
        this.#waiters.set(ticketId, waiters);
      }
      const done = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiters.get(ticketId) === waiters) {
          this.#waiters.delete(ticketId);
        }
        resolve();
      };
      const timer = setTimeout(done, options.timeoutMs);
      options.signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  /** Wakes the ticket's followers without a new event (its record changed). */
  touch(ticketId: string): void {
    this.#announce(ticketId);
  }

  #announce(ticketId: string): void {
    this.#versions.set(ticketId, this.version(ticketId) + 1);
    for (const waiter of [...(this.#waiters.get(ticketId) ?? [])]) waiter();
  }
}
