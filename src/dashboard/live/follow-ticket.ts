import type { Ticket } from '../../api/tickets.ts';
import type { Mags } from '../../sdk/mags.ts';

/**
 * One ticket's snapshots, taken from its owner's project-wide ticket stream (the API has no
 * stream of one ticket's record): the project's list first (and again after a reconnection),
 * then each change of this ticket. Ends when `signal` aborts; throws what the stream throws.
 */
export async function* followTicketSnapshots(
  mags: Mags,
  id: string,
  project: string,
  signal: AbortSignal,
): AsyncGenerator<Ticket> {
  for await (const change of mags.tickets.follow({ project, signal })) {
    const found =
      change.type === 'tickets'
        ? change.tickets.find((each) => each.id === id)
        : change.ticket.id === id
          ? change.ticket
          : undefined;
    if (found) yield found;
  }
}
