import type { TicketEvent } from '../api/tickets.ts';
import type { Mags } from '../sdk/mags.ts';
import { ticketEventLine, ticketEventLines } from './ticket-event-line.ts';

/** The most event text one tool result holds: past it, the cursor says where to go on. */
const maxTextChars = 40_000;

/**
 * While following, a progress notification at least this often even when the ticket is quiet:
 * clients that reset their request timeout on progress (resetTimeoutOnProgress) would otherwise
 * give up on a long model call or test run.
 */
export const followHeartbeatMs = 15_000;

export interface TicketFollowOptions {
  ticketId: string;
  after: number;
  follow: boolean;
  maxEvents: number;
  timeoutMs: number;
  /** The client's cancellation: ends the wait (and the stream to the API). */
  signal: AbortSignal;
  /**
   * A progress notification: `progress` is the seconds waited so far (strictly increasing),
   * `message` an event's line or, every `heartbeatMs` while following, that it still waits.
   */
  onProgress?: (progress: number, message: string) => Promise<void>;
  /** How often a quiet follow says it still waits (default `followHeartbeatMs`). */
  heartbeatMs?: number;
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
  const startedAt = performance.now();
  let lastProgress = 0;
  const notify = (message: string) => {
    const elapsed = Math.round(performance.now() - startedAt) / 1000;
    lastProgress = Math.max(elapsed, Math.round((lastProgress + 0.001) * 1000) / 1000);
    return options.onProgress?.(lastProgress, message);
  };
  const heartbeat =
    options.follow && options.onProgress
      ? setInterval(() => {
          const seconds = Math.round((performance.now() - startedAt) / 1000);
          // A lost notification only means one heartbeat fewer; the follow goes on.
          notify(
            `still waiting for ticket ${options.ticketId}: ${events.length} events so far, ${seconds} s`,
          )?.catch(() => undefined);
        }, options.heartbeatMs ?? followHeartbeatMs)
      : undefined;
  let streamEnded = false;
  try {
    for await (const event of client.tickets.events(options.ticketId, {
      after: options.after,
      follow: options.follow,
      signal: stop.signal,
    })) {
      events.push(event);
      await notify(ticketEventLine(event));
      if (events.length >= options.maxEvents) break;
    }
    streamEnded = events.length < options.maxEvents;
  } catch (error) {
    // Our own stop (the time is up) ends the wait; anything else (a 404, the client's
    // cancellation) is the call's error.
    if (!timedOut || options.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    clearInterval(heartbeat);
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
  // The note is in the structured value too: some clients give the model only that.
  const note =
    `Ticket ${ticket.id} is ${ticket.status}${ticket.reason ? ` (${ticket.reason})` : ''}. ` +
    `nextAfter: ${nextAfter}.` +
    (more ? ' More events are stored: call again with after set to nextAfter.' : '') +
    (timedOut && moving ? ' The wait timed out while it still runs: call again to go on.' : '') +
    (ticket.status === 'awaiting_review' ? ' Review it with ticket_evidence.' : '');
  lines.push(note);
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
      note,
    },
  };
}
