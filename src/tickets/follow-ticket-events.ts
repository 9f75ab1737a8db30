import type { TicketEvent } from '../api/tickets.ts';
import type { StateRepository } from '../state/state-repository.ts';
import type { TicketEventLog } from './ticket-event-log.ts';
import { isActive } from './ticket-view.ts';

/** `changes_requested` only ever leads to `queued`: a follower waits through it. */
const goesOn = (status: TicketEvent['data'] & { type: 'status' }) =>
  isActive(status.to) || status.to === 'changes_requested';

const pageSize = 500;
/** How long a follower waits before looking again without news (another process may append). */
const pollMs = 2000;

/**
 * A ticket's stored events after `after`, in order; with `follow`, also those appended later,
 * until the ticket is neither queued nor running. The caller has checked the ticket's owner.
 */
export async function* followTicketEvents(
  repository: StateRepository,
  log: TicketEventLog,
  ticket: { owner: string; id: string },
  options: { after?: number; follow?: boolean; signal?: AbortSignal },
): AsyncGenerator<TicketEvent> {
  let cursor = options.after ?? 0;
  let last: TicketEvent | undefined;
  for (;;) {
    // Read before the page: an event stored while the page is read changes it, and is not missed.
    const version = log.version(ticket.id);
    const page = await repository.readTicketEvents(ticket.id, cursor, pageSize);
    for (const event of page) {
      yield event;
      cursor = event.id;
      last = event;
    }
    if (page.length === pageSize) continue;
    if (!options.follow || options.signal?.aborted) return;
    // Caught up. Its status event is stored before its record changes: a last event that leaves
    // queued/running ends the stream; so does a record that says so (nothing more will come).
    const record = await repository.getTicket(ticket.owner, ticket.id);
    if (last?.data.type === 'status' && !goesOn(last.data)) {
      // The record follows its event by one statement, announced by `touch`: on a networked
      // database (PostgreSQL) a follower gets here first, and a caller that reads the ticket
      // when the stream ends must find it changed. Another process's change: the next look.
      if (record && (isActive(record.status) || record.status === 'changes_requested')) {
        await log.changed(ticket.id, version, { timeoutMs: pollMs, signal: options.signal });
      }
      return;
    }
    if (!record || !(isActive(record.status) || record.status === 'changes_requested')) {
      const rest = await repository.readTicketEvents(ticket.id, cursor, Number.MAX_SAFE_INTEGER);
      yield* rest;
      return;
    }
    await log.changed(ticket.id, version, { timeoutMs: pollMs, signal: options.signal });
  }
}
