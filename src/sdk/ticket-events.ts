import type { TicketEvent } from '../api/tickets.ts';
import type { LogRequest } from './log-stream.ts';
import { followStoredEvents, type StoredEventsOptions } from './stored-events.ts';

/** `follow`: keep streaming until the ticket is neither queued nor running. */
export type TicketEventsOptions = StoredEventsOptions;

/**
 * A ticket's events from `GET /v1/tickets/{id}/events` (Server-Sent Events), each exactly once
 * and in order: a dropped connection is resumed after the last event received.
 */
export function followTicketEvents(
  request: LogRequest,
  ticketId: string,
  options: TicketEventsOptions = {},
): AsyncGenerator<TicketEvent> {
  return followStoredEvents<TicketEvent>(
    request,
    (after) =>
      `/v1/tickets/${encodeURIComponent(ticketId)}/events?after=${after}&follow=${options.follow ?? false}`,
    'ticket',
    options,
  );
}
