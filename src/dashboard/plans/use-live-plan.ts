import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Plan, PlanEvent } from '../../api/plans.ts';
import type { Ticket } from '../../api/tickets.ts';
import { useMags } from '../client-context.ts';
import { withTicketSnapshots } from './plan-ticket-snapshots.ts';

/** Plan events that change the plan itself; its tickets' own events come from `tickets.follow`. */
const planLevel = new Set<PlanEvent['data']['type']>([
  'plan_status',
  'ticket_state',
  'merge',
  'usage',
]);

/**
 * A plan kept current by two streams. Its tickets' statuses and usage: the snapshots of
 * `tickets.follow({ plan })`. The plan itself (status, ticket states, merges, totals): read
 * again when its event stream (`plans.events` with `follow`) tells of a plan-level change,
 * one read at a time (at most one more queued behind it), never once per event. The plan's log
 * mirrors every event of its tickets (model text included), so it is not replayed: the stream
 * starts after its newest event (`after: 'latest'`), and the first event it brings reads the plan
 * again (a change between the first read and the stream's start is not missed); after a restart
 * it resumes after the last event seen, and events at or before the plan's `updatedAt` as read
 * are what that read reflects already. The server ends the stream once the plan is settled;
 * `restart()` follows again after an action moved it.
 */
export function useLivePlan(id: string) {
  const mags = useMags();
  const [plan, setPlan] = useState<Plan>();
  const [tickets, setTickets] = useState<ReadonlyMap<string, Ticket>>(new Map());
  const [error, setError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  const lastEventId = useRef(0);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    void (async () => {
      try {
        for await (const change of mags.tickets.follow({ plan: id, signal })) {
          setTickets((previous) => {
            const next = new Map(change.type === 'tickets' ? [] : previous);
            for (const ticket of change.type === 'tickets' ? change.tickets : [change.ticket]) {
              next.set(ticket.id, ticket);
            }
            return next;
          });
        }
      } catch (caught) {
        if (!signal.aborted) setError(caught);
      }
    })();
    return () => controller.abort();
  }, [mags, id]);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let reading: Promise<void> | undefined;
    let again = false;
    /** Reads the plan, unless a read is in flight: then once more after it. */
    const read = (): Promise<void> => {
      if (reading) {
        again = true;
        return reading;
      }
      reading = (async () => {
        try {
          do {
            again = false;
            const fresh = await mags.plans.get(id);
            if (signal.aborted) return;
            setPlan(fresh);
          } while (again);
        } catch (caught) {
          if (!signal.aborted) setError(caught);
        } finally {
          reading = undefined;
        }
      })();
      return reading;
    };
    void (async () => {
      try {
        const first = await mags.plans.get(id);
        if (signal.aborted) return;
        setPlan(first);
        let opened = false;
        for await (const event of mags.plans.events(id, {
          follow: true,
          after: lastEventId.current === 0 ? 'latest' : lastEventId.current,
          signal,
        })) {
          lastEventId.current = event.id;
          const planChanged = planLevel.has(event.data.type) && event.at > first.updatedAt;
          if (planChanged || !opened) void read();
          opened = true;
        }
        await read();
      } catch (caught) {
        if (!signal.aborted) setError(caught);
      }
    })();
    return () => controller.abort();
  }, [mags, id, generation]);

  const restart = useCallback(() => setGeneration((value) => value + 1), []);
  const shown = useMemo(() => plan && withTicketSnapshots(plan, tickets), [plan, tickets]);
  return { plan: shown, error, setPlan, restart };
}
