import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { TicketEvent } from '../../api/tickets.ts';
import { NotFoundError } from '../../errors/mags-error.ts';
import type { TicketFilter } from '../../state/state-repository.ts';
import type { TicketManager } from '../../tickets/ticket-manager.ts';
import { toTicketView } from '../../tickets/ticket-view.ts';

type StatusData = TicketEvent['data'] & { type: 'status' };

/**
 * `GET /v1/tickets?follow=true`: the owner's tickets as Server-Sent Events, for a board that
 * follows every ticket at once instead of one stream per ticket. First a `tickets` event with
 * the list as `GET /v1/tickets` answers it, then a `ticket` event with a ticket's snapshot each
 * time one of the tickets the project and plan filters select changes status or usage (also one
 * that leaves a `status` filter, so a client can move it). Snapshots, not deltas: a client that
 * reconnects gets the whole list again and misses nothing.
 */
export async function ticketChangesResponse(
  c: Context,
  tickets: TicketManager,
  owner: string,
  filter: Omit<TicketFilter, 'owner'>,
): Promise<Response> {
  const changed = new Set<string>();
  const statuses = new Map<string, StatusData>();
  let wake: (() => void) | undefined;
  // Subscribed before the list is read: a change while it is read is sent after it, not missed.
  const unsubscribe = tickets.onEvent((ticketId, event) => {
    if (event.data.type !== 'status' && event.data.type !== 'usage') return;
    changed.add(ticketId);
    if (event.data.type === 'status') statuses.set(ticketId, event.data);
    wake?.();
  });
  let initial: Awaited<ReturnType<TicketManager['list']>>;
  try {
    initial = await tickets.list(owner, filter); // an unknown project is a 404 before the stream
  } catch (error) {
    unsubscribe();
    throw error;
  }
  return streamSSE(c, async (stream) => {
    const gone = new AbortController();
    stream.onAbort(() => {
      gone.abort();
      wake?.();
    });
    const keepAlive = setInterval(() => void stream.write(': keep-alive\n\n'), 15_000);
    try {
      await stream.writeSSE({
        event: 'tickets',
        data: JSON.stringify({ tickets: initial.map(toTicketView) }),
      });
      while (!gone.signal.aborted) {
        if (changed.size === 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        // A status event is stored just before the ticket's record (TicketRecorder.transition):
        // one turn of the event loop lets that update land, and the event's status is applied
        // over a record read too early.
        await new Promise((resolve) => setImmediate(resolve));
        const ids = [...changed];
        changed.clear();
        for (const id of ids) {
          const status = statuses.get(id);
          statuses.delete(id);
          const record = await tickets.get(owner, id).catch((error: unknown) => {
            if (error instanceof NotFoundError) return undefined; // another owner's, or deleted
            throw error;
          });
          if (!record) continue;
          if (filter.project !== undefined && record.project !== filter.project) continue;
          if (filter.plan !== undefined && record.plan !== filter.plan) continue;
          const view = toTicketView(record);
          if (status && view.status !== status.to) {
            view.status = status.to;
            view.reason = status.reason;
          }
          await stream.writeSSE({ event: 'ticket', data: JSON.stringify(view) });
        }
      }
    } finally {
      clearInterval(keepAlive);
      unsubscribe();
    }
  });
}
