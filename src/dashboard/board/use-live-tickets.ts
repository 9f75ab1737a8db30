import type { Ticket } from '../../api/tickets.ts';
import type { TicketChange } from '../../sdk/ticket-changes.ts';
import { useMags } from '../client-context.ts';
import { upsert, useLiveList } from '../live/use-live-list.ts';

export interface LiveTickets {
  /** Newest first, as the API lists them; undefined until the list arrived. */
  tickets: Ticket[] | undefined;
  error: unknown;
}

/** The list with one change folded in: a new ticket goes first (the API lists newest first). */
const applyTicketChange = (tickets: Ticket[] | undefined, change: TicketChange): Ticket[] =>
  change.type === 'tickets'
    ? change.tickets
    : upsert(
        tickets ?? [],
        change.ticket,
        (ticket) => ticket.id,
        (list, ticket) => [ticket, ...list],
      );

/**
 * The owner's tickets, kept current by one stream (`tickets.follow`: the list, then a snapshot
 * of each ticket that changes). A reconnection's list replaces what is held.
 */
export function useLiveTickets(): LiveTickets {
  const mags = useMags();
  const live = useLiveList((signal) => mags.tickets.follow({ signal }), applyTicketChange, [mags]);
  return { tickets: live.items, error: live.error };
}
