import type { Ticket, TicketStatus } from '../api/tickets.ts';
import { type FollowChangesOptions, followChanges } from './follow-changes.ts';
import type { LogRequest } from './log-stream.ts';
import { queryString } from './query-string.ts';

export interface TicketChangesOptions extends FollowChangesOptions {
  project?: string;
  status?: TicketStatus;
  plan?: string;
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
export function followTicketChanges(
  request: LogRequest,
  options: TicketChangesOptions = {},
): AsyncGenerator<TicketChange> {
  return followChanges<TicketChange>(
    request,
    `/v1/tickets${queryString({ follow: true, project: options.project, status: options.status, plan: options.plan })}`,
    (event, data) => {
      if (event === 'tickets')
        return { type: 'tickets', tickets: (data as { tickets: Ticket[] }).tickets };
      if (event === 'ticket') return { type: 'ticket', ticket: data as Ticket };
      return undefined;
    },
    options,
  );
}
