import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { TicketEvent } from '../api/tickets.ts';
import type { LogRequest } from './log-stream.ts';

export interface TicketEventsOptions {
  /** Events after this id (0: from the first). */
  after?: number;
  /** Keep streaming until the ticket is neither queued nor running (default false). */
  follow?: boolean;
  signal?: AbortSignal;
  /** Reconnections after a dropped stream before giving up (default 10). */
  maxReconnects?: number;
}

/**
 * A ticket's events from `GET /v1/tickets/{id}/events` (Server-Sent Events), each exactly once
 * and in order: a dropped connection is resumed after the last event received.
 */
export async function* followTicketEvents(
  request: LogRequest,
  ticketId: string,
  options: TicketEventsOptions = {},
): AsyncGenerator<TicketEvent> {
  let after = options.after ?? 0;
  let failures = 0;
  for (;;) {
    const received: TicketEvent[] = [];
    let ended = false;
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        if (message.event === 'end') ended = true;
        else if (message.id !== undefined) received.push(JSON.parse(message.data) as TicketEvent);
      },
    });
    try {
      const response = await request(
        `/v1/tickets/${encodeURIComponent(ticketId)}/events?after=${after}&follow=${options.follow ?? false}`,
        options.signal,
      );
      const decoder = new TextDecoder();
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        failures = 0;
        for (const event of received.splice(0)) {
          if (event.id <= after) continue;
          after = event.id;
          yield event;
        }
      }
      if (ended) return;
      throw new Error('the event stream ended before the ticket did');
    } catch (error) {
      // API errors (404, 401) and a caller's abort end it; a dropped connection is retried.
      if (options.signal?.aborted || (error as { statusCode?: number }).statusCode) throw error;
      if (++failures > (options.maxReconnects ?? 10)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, 2000)));
  }
}
