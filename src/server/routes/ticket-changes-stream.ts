import type { Context } from 'hono';
import type { TicketEvent } from '../../api/tickets.ts';
import { NotFoundError } from '../../errors/mags-error.ts';
import type { TicketFilter } from '../../state/state-repository.ts';
import type { TicketManager } from '../../tickets/ticket-manager.ts';
import { toTicketView } from '../../tickets/ticket-view.ts';
import { changeStreamResponse } from './change-stream.ts';

type StatusData = TicketEvent['data'] & { type: 'status' };

/**
 * `GET /v1/tickets?follow=true`: the owner's tickets as Server-Sent Events, for a board that
 * follows every ticket at once instead of one stream per ticket. First a `tickets` event with
 * the list as `GET /v1/tickets` answers it, then a `ticket` event with a ticket's snapshot each
 * time one of the tickets the project and plan filters select changes status or usage (also one
 * that leaves a `status` filter, so a client can move it). See change-stream.ts.
 */
export function ticketChangesResponse(
  c: Context,
  tickets: TicketManager,
  owner: string,
  filter: Omit<TicketFilter, 'owner'>,
): Promise<Response> {
  const statuses = new Map<string, StatusData>();
  return changeStreamResponse(c, {
    listEvent: 'tickets',
    itemEvent: 'ticket',
    subscribe: (changed) =>
      tickets.onEvent((ticketId, event, eventOwner) => {
        // Another owner's change is dropped here, before it costs this stream a read.
        if (eventOwner !== owner) return;
        if (event.data.type !== 'status' && event.data.type !== 'usage') return;
        if (event.data.type === 'status') statuses.set(ticketId, event.data);
        changed(ticketId);
      }),
    // an unknown project is a 404 before the stream
    list: async () => ({ tickets: (await tickets.list(owner, filter)).map(toTicketView) }),
    // A status event is stored just before the ticket's record (TicketRecorder.transition): one
    // turn of the event loop lets that update land, and the event's status is applied over a
    // record read too early.
    settle: () => new Promise((resolve) => setImmediate(resolve)),
    snapshot: async (id) => {
      const status = statuses.get(id);
      statuses.delete(id);
      const record = await tickets.get(owner, id).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined; // deleted meanwhile
        throw error;
      });
      if (!record) return undefined;
      if (filter.project !== undefined && record.project !== filter.project) return undefined;
      if (filter.plan !== undefined && record.plan !== filter.plan) return undefined;
      const view = toTicketView(record);
      if (status && view.status !== status.to) {
        view.status = status.to;
        view.reason = status.reason;
      }
      return view;
    },
  });
}
