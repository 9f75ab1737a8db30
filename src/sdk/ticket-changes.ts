import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Ticket, TicketStatus } from '../api/tickets.ts';
import { bodyChunks } from './body-chunks.ts';
import type { LogRequest } from './log-stream.ts';

export interface TicketChangesOptions {
  project?: string;
  status?: TicketStatus;
  plan?: string;
  signal?: AbortSignal;
  /** Reconnections in a row after a dropped stream before giving up (default 10). */
  maxReconnects?: number;
}

/** What `tickets.follow` yields: the whole list (first, and after a reconnection), or one ticket. */
export type TicketChange =
  | { type: 'tickets'; tickets: Ticket[] }
  | { type: 'ticket'; ticket: Ticket };

/**
 * The owner's tickets followed live (`GET /v1/tickets?follow=true`): the list, then each
 * ticket's snapshot as it changes status or usage, until `signal` aborts. A dropped connection
 * is opened again, and the list that comes first then replaces what the caller holds.
 */
export async function* followTicketChanges(
  request: LogRequest,
  options: TicketChangesOptions = {},
): AsyncGenerator<TicketChange> {
  const query = new URLSearchParams({ follow: 'true' });
  for (const key of ['project', 'status', 'plan'] as const) {
    const value = options[key];
    if (value !== undefined) query.set(key, value);
  }
  let failures = 0;
  for (;;) {
    const received: TicketChange[] = [];
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        if (message.event === 'tickets') {
          const { tickets } = JSON.parse(message.data) as { tickets: Ticket[] };
          received.push({ type: 'tickets', tickets });
        } else if (message.event === 'ticket') {
          received.push({ type: 'ticket', ticket: JSON.parse(message.data) as Ticket });
        }
      },
    });
    try {
      const response = await request(`/v1/tickets?${query}`, options.signal);
      const decoder = new TextDecoder();
      for await (const chunk of bodyChunks(response.body)) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        failures = 0;
        yield* received.splice(0);
      }
      throw new Error('the ticket stream ended');
    } catch (error) {
      // API errors (404, 401) and a caller's abort end it; a dropped connection is retried.
      if (options.signal?.aborted || (error as { statusCode?: number }).statusCode) throw error;
      if (++failures > (options.maxReconnects ?? 10)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, 2000)));
  }
}
