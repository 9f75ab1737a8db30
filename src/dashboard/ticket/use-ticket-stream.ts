import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { Ticket, TicketEvent } from '../../api/tickets.ts';
import type { Mags } from '../../sdk/mags.ts';
import {
  appendEvents,
  emptyTimeline,
  summarize,
  summaryOf,
  type TicketSummary,
  type Timeline,
} from './ticket-timeline.ts';

export type StreamState = 'connecting' | 'live' | 'ended';

export interface TicketStream {
  ticket: Ticket | undefined;
  summary: TicketSummary | undefined;
  timeline: Timeline;
  state: StreamState;
  error: unknown;
  /** Takes in events the page got otherwise (a posted comment while not following). */
  add: (events: TicketEvent[]) => void;
  /** Follows again after the last event (after a run was started from the page). */
  follow: (ticket?: Ticket) => void;
}

/**
 * A ticket and its events, followed live through the SDK (SSE; the SDK resumes a dropped
 * connection after the last event it got). Events arriving together are taken in once per
 * animation frame, so a fast agent costs one render per frame, not one per event.
 */
export function useTicketStream(mags: Mags, id: string): TicketStream {
  const [ticket, setTicket] = useState<Ticket>();
  const [summary, setSummary] = useState<TicketSummary>();
  const [timeline, setTimeline] = useState<Timeline>(emptyTimeline);
  const [state, setState] = useState<StreamState>('connecting');
  const [error, setError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  const lastId = useRef(0);

  const add = useCallback((events: TicketEvent[]) => {
    const fresh = events.filter((event) => event.id > lastId.current);
    if (fresh.length === 0) return;
    lastId.current = fresh.at(-1)?.id ?? lastId.current;
    setTimeline((previous) => appendEvents(previous, fresh));
    setSummary((previous) => previous && summarize(previous, fresh));
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    let buffer: TicketEvent[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = buffer;
      buffer = [];
      add(batch);
    };
    const run = async () => {
      setState('connecting');
      // The ticket and its events are asked for at once: the first event reaches the screen
      // one round trip sooner than if the stream waited for the ticket.
      const events = mags.tickets.events(id, {
        follow: true,
        after: lastId.current,
        signal: controller.signal,
      });
      const first = events.next();
      first.catch(() => {}); // awaited below; a 404 is reported once, by the ticket's read
      const current = await mags.tickets.get(id);
      if (controller.signal.aborted) return;
      setTicket(current);
      setSummary((previous) => previous ?? summaryOf(current));
      setState('live');
      const head = await first;
      if (!head.done) {
        buffer.push(head.value);
        frame = requestAnimationFrame(flush);
      }
      for await (const event of events) {
        buffer.push(event);
        if (!frame) frame = requestAnimationFrame(flush);
      }
      cancelAnimationFrame(frame);
      flush();
      // The stream ends when the ticket is neither queued nor running: its final state.
      const ended = await mags.tickets.get(id);
      if (controller.signal.aborted) return;
      setTicket(ended);
      setSummary((previous) => ({
        ...(previous ?? summaryOf(ended)),
        status: ended.status,
        reason: ended.reason,
        attempt: ended.attempt,
        usage: ended.usage,
      }));
      setState('ended');
    };
    run().catch((caught: unknown) => {
      if (controller.signal.aborted) return;
      controller.abort(); // the events' stream, if the ticket's read failed first
      setError(caught);
      setState('ended');
    });
    return () => {
      controller.abort();
      cancelAnimationFrame(frame);
    };
  }, [mags, id, generation, add]);

  const follow = useCallback((next?: Ticket) => {
    if (next) {
      setTicket(next);
      setSummary(
        (previous) => previous && { ...previous, status: next.status, reason: next.reason },
      );
    }
    setError(undefined);
    setGeneration((value) => value + 1);
  }, []);

  return { ticket, summary, timeline, state, error, add, follow };
}
