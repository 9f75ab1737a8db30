import type { TicketEvent } from '../api/tickets.ts';
import type { Mags } from '../sdk/mags.ts';
import { ticketEventLine, ticketEventLines } from './ticket-event-line.ts';

/** The most event text one tool result holds: past it, the cursor says where to go on. */
const maxTextChars = 40_000;

export interface TicketFollowOptions {
  ticketId: string;
  after: number;
  follow: boolean;
  maxEvents: number;
  timeoutMs: number;
  /** The client's cancellation: ends the wait (and the stream to the API). */
  signal: AbortSignal;
  /** Each event as it comes, numbered from 1 (the progress notification). */
  onEvent?: (count: number, line: string) => Promise<void>;
}

/**
 * A ticket's events after a cursor, for a model: read (or followed until the ticket stops
 * moving, the time is up or `maxEvents` came), then cut to what a context can take, with the
 * cursor of the last event included so the next call goes on without gaps or repeats.
 */
export async function followTicketForModel(client: Mags, options: TicketFollowOptions) {
  const stop = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop.abort();
  }, options.timeoutMs);
  const cancel = () => stop.abort();
  options.signal.addEventListener('abort', cancel, { once: true });
  const events: TicketEvent[] = [];
  let streamEnded = false;
  try {
    for await (const event of client.tickets.events(options.ticketId, {
      after: options.after,
      follow: options.follow,
      signal: stop.signal,
    })) {
      events.push(event);
      await options.onEvent?.(events.length, ticketEventLine(event));
      if (events.length >= options.maxEvents) break;
    }
    streamEnded = events.length < options.maxEvents;
  } catch (error) {
    // Our own stop (the time is up) ends the wait; anything else (a 404, the client's
    // cancellation) is the call's error.
    if (!timedOut || options.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', cancel);
    stop.abort();
  }

  let textChars = 0;
  let included = 0;
  for (const event of events) {
    textChars += ticketEventLine(event).length + 1;
    if (textChars > maxTextChars && included > 0) break;
    included++;
  }
  const shown = events.slice(0, included);
  const nextAfter = shown.at(-1)?.id ?? options.after;
  const more = included < events.length || (!streamEnded && !timedOut);
  const ticket = await client.tickets.get(options.ticketId);
  const moving = ticket.status === 'queued' || ticket.status === 'running';

  const lines = ticketEventLines(shown);
  if (lines.length === 0) lines.push(`No events after #${options.after}.`);
  lines.push(
    `Ticket ${ticket.id} is ${ticket.status}${ticket.reason ? ` (${ticket.reason})` : ''}. ` +
      `nextAfter: ${nextAfter}.` +
      (more ? ' More events are stored: call again with after set to nextAfter.' : '') +
      (timedOut && moving ? ' The wait timed out while it still runs: call again to go on.' : '') +
      (ticket.status === 'awaiting_review' ? ' Review it with ticket_evidence.' : ''),
  );
  return {
    text: lines.join('\n'),
    value: {
      ticketId: ticket.id,
      status: ticket.status,
      reason: ticket.reason,
      events: shown.map((event) => ({
        id: event.id,
        attempt: event.attempt,
        at: event.at,
        type: event.data.type,
        line: ticketEventLine(event),
      })),
      nextAfter,
      more,
      timedOut,
    },
  };
}
