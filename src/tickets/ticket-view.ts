import type { Ticket } from '../api/tickets.ts';
import type { TicketRecord } from '../state/state-repository.ts';

/** The API's view of a stored ticket: without its owner, the agent's history and its server. */
export function toTicketView(record: TicketRecord): Ticket {
  const {
    owner: _owner,
    history: _history,
    commentsDeliveredThrough: _delivered,
    host: _host,
    server: _server,
    ...ticket
  } = record;
  return ticket;
}

/** Statuses in which an agent is about to work or working: `events` follows them. */
export const activeStatuses = ['queued', 'running'] as const;

export function isActive(status: Ticket['status']): boolean {
  return (activeStatuses as readonly string[]).includes(status);
}
