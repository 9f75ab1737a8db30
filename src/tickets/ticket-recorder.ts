import type { TicketEvent, TicketEventData, TicketStatus } from '../api/tickets.ts';
import type { StateRepository, TicketRecord } from '../state/state-repository.ts';
import { ticketNotFound, wrongStatus } from './ticket-errors.ts';
import type { TicketEventLog } from './ticket-event-log.ts';
import { readAllTicketEvents } from './unseen-comments.ts';

/**
 * How a ticket's state is written: its events (in order, model text merged) and its status
 * changes (the event first, then the record). Status changes are made by code that holds the
 * ticket's lock (`TicketLock`) and has just read the status it changes from (`require`).
 */
export class TicketRecorder {
  readonly #repository: StateRepository;
  readonly #events: TicketEventLog;

  constructor(repository: StateRepository, events: TicketEventLog) {
    this.#repository = repository;
    this.#events = events;
  }

  /** Stores the event in order and announces it; a `usage` event also moves the ticket's totals. */
  async emit(ticket: TicketRecord, data: TicketEventData): Promise<TicketEvent> {
    const event = await this.#events.append(ticket, data);
    if (data.type === 'usage')
      await this.#repository.updateTicket(ticket.id, { usage: data.total });
    return event;
  }

  /** An agent's event: model text is merged and stored shortly (returns at once), the rest as `emit`. */
  async emitFromAgent(ticket: TicketRecord, data: TicketEventData): Promise<void> {
    if (data.type === 'text') this.#events.appendText(ticket, data);
    else await this.emit(ticket, data);
  }

  /** Every event of the ticket stored so far, model text included (flushed first). */
  async allEvents(id: string): Promise<TicketEvent[]> {
    await this.#events.flushed(id);
    return readAllTicketEvents(this.#repository, id);
  }

  /** The owner's ticket as stored now, if `action` is allowed in its status (a 409 if not). */
  async require(
    owner: string,
    id: string,
    action: string,
    statuses: readonly TicketStatus[],
  ): Promise<TicketRecord> {
    const ticket = await this.#repository.getTicket(owner, id);
    if (!ticket) throw ticketNotFound(id);
    if (!statuses.includes(ticket.status)) throw wrongStatus(id, action, ticket.status, statuses);
    return ticket;
  }

  /**
   * A status change of `ticket` (as just read under its lock): its event first, then the record
   * (a follower that sees the record changed has the event already). Returns the updated record.
   */
  async transition(
    ticket: TicketRecord,
    to: TicketStatus,
    reason: string | null,
    update: Partial<TicketRecord> = {},
  ): Promise<TicketRecord> {
    const next: TicketRecord = {
      ...ticket,
      ...update,
      status: to,
      reason,
      updatedAt: new Date().toISOString(),
    };
    await this.emit(next, { type: 'status', from: ticket.status, to, reason });
    await this.#repository.updateTicket(ticket.id, {
      ...update,
      status: to,
      reason,
      updatedAt: next.updatedAt,
    });
    this.#events.touch(ticket.id);
    return next;
  }
}
