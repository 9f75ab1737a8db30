import type { TicketEvent } from '../api/tickets.ts';
import type { PlanRecord, StateRepository } from '../state/state-repository.ts';
import type { PlanEventLog } from './plan-event-log.ts';

/** A ticket of a plan this process drives: where its events go. */
export interface PlanTicketEntry {
  owner: string;
  plan: string;
  key: string;
}

/**
 * Which plan each ticket this process drives belongs to, and its events copied into the plan's
 * log as `ticket_event`s: in order, none twice, none missed (those stored before it was tracked
 * are read from the repository first).
 */
export class PlanTicketMirror {
  readonly #repository: StateRepository;
  readonly #events: PlanEventLog;
  readonly #log: (line: string) => void;
  /** Ticket id → its plan, for the plans this process drives. */
  readonly #index = new Map<string, PlanTicketEntry>();
  /** Ticket id → the last of its events mirrored into its plan's log. */
  readonly #mirrored = new Map<string, number>();

  constructor(options: {
    repository: StateRepository;
    events: PlanEventLog;
    log(line: string): void;
  }) {
    this.#repository = options.repository;
    this.#events = options.events;
    this.#log = options.log;
  }

  /**
   * The plan's tickets' events reach the plan from now on; those stored before (from
   * `afterEvents`, per ticket) are mirrored first.
   */
  track(plan: PlanRecord, afterEvents: Map<string, number> = new Map()): void {
    for (const item of plan.tickets) {
      if (!item.ticket) continue;
      this.#index.set(item.ticket, { owner: plan.owner, plan: plan.id, key: item.key });
      this.#mirrored.set(item.ticket, afterEvents.get(item.ticket) ?? 0);
      void this.mirror(plan.id, item.key, item.ticket);
    }
  }

  forget(plan: PlanRecord): void {
    for (const item of plan.tickets) {
      if (!item.ticket) continue;
      this.#index.delete(item.ticket);
      this.#mirrored.delete(item.ticket);
    }
  }

  /** The plan a tracked ticket belongs to. */
  entry(ticketId: string): PlanTicketEntry | undefined {
    return this.#index.get(ticketId);
  }

  /**
   * Copies the ticket's events into its plan's log as `ticket_event`s, in order, none twice: the
   * event given when it follows the last one mirrored, else every stored one after that.
   */
  mirror(planId: string, key: string, ticketId: string, event?: TicketEvent): Promise<unknown> {
    return this.#events
      .enqueue(planId, async () => {
        const last = this.#mirrored.get(ticketId);
        if (last === undefined || (event && event.id <= last)) return;
        const missing =
          event && event.id === last + 1
            ? [event]
            : await this.#repository.readTicketEvents(ticketId, last, Number.MAX_SAFE_INTEGER);
        for (const each of missing) {
          await this.#events.appendNow(planId, {
            type: 'ticket_event',
            key,
            ticket: ticketId,
            event: each,
          });
          this.#mirrored.set(ticketId, each.id);
        }
      })
      .catch((error: unknown) => {
        this.#log(`plan ${planId}: ticket events not mirrored: ${(error as Error).message}`);
      });
  }
}
