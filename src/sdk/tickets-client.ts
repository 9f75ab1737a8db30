import type {
  Budget,
  CreateTicketBody,
  Evidence,
  Ticket,
  TicketEvent,
  TicketStatus,
} from '../api/tickets.ts';
import type { LogRequest } from './log-stream.ts';
import {
  followTicketChanges,
  type TicketChange,
  type TicketChangesOptions,
} from './ticket-changes.ts';
import { followTicketEvents, type TicketEventsOptions } from './ticket-events.ts';

/** What the tickets client needs of `Mags`: JSON requests and raw ones. */
export interface TicketTransport {
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  send: LogRequest;
}

const ticketPath = (id: string) => `/v1/tickets/${encodeURIComponent(id)}`;

/** `mags.tickets`: the ticket API (`/v1/tickets`), typed from the server's schemas. */
export function ticketsClient(transport: TicketTransport) {
  const { json } = transport;
  return {
    /** A draft, or queued at once with `run: true`. */
    create: (body: CreateTicketBody): Promise<Ticket> => json('POST', '/v1/tickets', body),
    list: async (filter: { project?: string; status?: TicketStatus } = {}): Promise<Ticket[]> => {
      const query = new URLSearchParams(
        Object.entries(filter).filter((entry): entry is [string, string] => entry[1] !== undefined),
      ).toString();
      const path = `/v1/tickets${query ? `?${query}` : ''}`;
      return (await json<{ tickets: Ticket[] }>('GET', path)).tickets;
    },
    get: (id: string): Promise<Ticket> => json('GET', ticketPath(id)),
    /** Queues its next attempt; `budget` is merged into the ticket's (to raise one it hit). */
    run: (id: string, options: { budget?: Budget } = {}): Promise<Ticket> =>
      json(
        'POST',
        `${ticketPath(id)}/run`,
        options.budget ? { budget: options.budget } : undefined,
      ),
    /** Stops it (the evidence of what its agent did is still assembled); resolves once stopped. */
    stop: (id: string, options: { reason?: string } = {}): Promise<Ticket> =>
      json(
        'POST',
        `${ticketPath(id)}/stop`,
        options.reason ? { reason: options.reason } : undefined,
      ),
    /** A comment; a running agent reads it at its next step. */
    comment: (id: string, text: string): Promise<TicketEvent> =>
      json('POST', `${ticketPath(id)}/comments`, { text }),
    /** Sends it back with feedback; `budget` is merged into the ticket's. */
    requestChanges: (
      id: string,
      text: string,
      options: { budget?: Budget } = {},
    ): Promise<Ticket> =>
      json('POST', `${ticketPath(id)}/request-changes`, {
        text,
        ...(options.budget && { budget: options.budget }),
      }),
    approve: (
      id: string,
      options: { message?: string; authorName?: string; authorEmail?: string } = {},
    ): Promise<Ticket> =>
      json('POST', `${ticketPath(id)}/approve`, Object.keys(options).length ? options : undefined),
    close: (id: string): Promise<Ticket> => json('POST', `${ticketPath(id)}/close`),
    /** The evidence of an attempt (the latest by default). */
    evidence: (id: string, attempt?: number): Promise<Evidence> =>
      json(
        'GET',
        `${ticketPath(id)}/evidence${attempt === undefined ? '' : `?attempt=${attempt}`}`,
      ),
    /** The approved result as git bundle bytes. */
    bundle: async (id: string): Promise<Uint8Array> => {
      const response = await transport.send(`${ticketPath(id)}/bundle`, undefined);
      return new Uint8Array(await response.arrayBuffer());
    },
    /** Its events in order; with `follow`, live until it is neither queued nor running. */
    events: (id: string, options: TicketEventsOptions = {}): AsyncGenerator<TicketEvent> =>
      followTicketEvents(transport.send, id, options),
    /**
     * The owner's tickets live: the list (first, and again after a reconnection), then each
     * ticket's snapshot when it changes status or usage; until `signal` aborts.
     */
    follow: (options: TicketChangesOptions = {}): AsyncGenerator<TicketChange> =>
      followTicketChanges(transport.send, options),
  };
}

export type TicketsClient = ReturnType<typeof ticketsClient>;
