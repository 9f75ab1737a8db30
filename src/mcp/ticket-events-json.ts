import type { TicketEvent } from '../api/tickets.ts';
import type { Mags } from '../sdk/mags.ts';

/** One read of a ticket's events holds at most this many, and this much JSON. */
export const ticketEventsCap = { events: 1000, chars: 1024 * 1024 };

export const ticketEventsUri = (ticketId: string, after?: number) =>
  `mags://tickets/${encodeURIComponent(ticketId)}/events${after === undefined ? '' : `?after=${after}`}`;

/**
 * A ticket's stored events after `after`, as JSON a program or a model reads in pages: up to
 * `ticketEventsCap`, with `nextAfter` and, when more are stored, the resource of the next page.
 */
export async function ticketEventsJson(
  client: Mags,
  ticketId: string,
  after: number,
): Promise<string> {
  const events: TicketEvent[] = [];
  let chars = 0;
  let more = false;
  const stop = new AbortController();
  try {
    for await (const event of client.tickets.events(ticketId, { after, signal: stop.signal })) {
      const size = JSON.stringify(event).length + 1;
      if (
        events.length >= ticketEventsCap.events ||
        (events.length > 0 && chars + size > ticketEventsCap.chars)
      ) {
        more = true;
        break;
      }
      events.push(event);
      chars += size;
    }
  } finally {
    stop.abort();
  }
  const nextAfter = events.at(-1)?.id ?? after;
  return JSON.stringify({
    ticketId,
    after,
    events,
    nextAfter,
    more,
    ...(more && { next: ticketEventsUri(ticketId, nextAfter) }),
  });
}
