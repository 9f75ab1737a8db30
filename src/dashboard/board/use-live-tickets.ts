import { useEffect, useState } from 'preact/hooks';
import type { Ticket } from '../../api/tickets.ts';
import { useMags } from '../client-context.ts';

export interface LiveTickets {
  /** Newest first, as the API lists them; undefined until the list arrived. */
  tickets: Ticket[] | undefined;
  error: unknown;
}

/**
 * The owner's tickets, kept current by one stream (`tickets.follow`: the list, then a snapshot
 * of each ticket that changes). A reconnection's list replaces what is held.
 */
export function useLiveTickets(): LiveTickets {
  const mags = useMags();
  const [state, setState] = useState<LiveTickets>({ tickets: undefined, error: undefined });
  useEffect(() => {
    const controller = new AbortController();
    void (async () => {
      try {
        for await (const change of mags.tickets.follow({ signal: controller.signal })) {
          if (change.type === 'tickets') {
            setState({ tickets: change.tickets, error: undefined });
            continue;
          }
          const ticket = change.ticket;
          setState((previous) => {
            const list = previous.tickets ?? [];
            const known = list.some((each) => each.id === ticket.id);
            return {
              error: undefined,
              tickets: known
                ? list.map((each) => (each.id === ticket.id ? ticket : each))
                : [ticket, ...list],
            };
          });
        }
      } catch (error) {
        if (!controller.signal.aborted) setState((previous) => ({ ...previous, error }));
      }
    })();
    return () => controller.abort();
  }, [mags]);
  return state;
}
