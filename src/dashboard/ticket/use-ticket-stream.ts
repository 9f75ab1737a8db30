import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { Ticket, TicketEvent } from '../../api/tickets.ts';
import type { Mags } from '../../sdk/mags.ts';
import { followTicketSnapshots } from '../live/follow-ticket.ts';
import {
  appendEvents,
  newTimeline,
  summarize,
  summaryOf,
  type TicketSummary,
  type Timeline,
} from './ticket-timeline.ts';

export type StreamState = 'connecting' | 'live' | 'ended';

export interface TicketStream {
  ticket: Ticket | undefined;
  summary: TicketSummary | undefined;
  /** Appended to in place; `version` changes when it grew. */
  timeline: Timeline;
  version: number;
  state: StreamState;
  error: unknown;
  /** Takes in events the page got otherwise (a posted comment while not following). */
  add: (events: TicketEvent[]) => void;
  /** Follows again after the last event (after a run was started from the page). */
  follow: (ticket?: Ticket) => void;
}

const active = (ticket: Ticket) => ticket.status === 'queued' || ticket.status === 'running';

/**
 * A ticket and its events, followed live through the SDK (SSE; the SDK resumes a dropped
 * connection after the last event it got). Events arriving together are taken in once per
 * animation frame, so a fast agent costs one render per frame, not one per event. The header's
 * summary starts from the ticket as read and never goes back while old events replay
 * (`summarize`). While the ticket is idle, the owner's ticket stream tells when a run starts
 * elsewhere (the CLI, the board): its events are followed again then.
 */
export function useTicketStream(mags: Mags, id: string): TicketStream {
  const [ticket, setTicket] = useState<Ticket>();
  const [summary, setSummary] = useState<TicketSummary>();
  const timeline = useRef<Timeline>(newTimeline());
  const [version, setVersion] = useState(0);
  const [state, setState] = useState<StreamState>('connecting');
  const [error, setError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  /** The ticket as last read: what replayed events are measured against. */
  const snapshot = useRef<Ticket | undefined>(undefined);

  // Another ticket in the same page component: start from nothing.
  const shown = useRef(id);
  if (shown.current !== id) {
    shown.current = id;
    timeline.current = newTimeline();
    snapshot.current = undefined;
    setTicket(undefined);
    setSummary(undefined);
  }

  const add = useCallback((events: TicketEvent[]) => {
    const fresh = events.filter((event) => event.id > timeline.current.lastId);
    if (!appendEvents(timeline.current, fresh)) return;
    setVersion(timeline.current.version);
    setSummary((previous) => {
      const read = snapshot.current;
      return previous && read ? summarize(previous, fresh, read) : previous;
    });
  }, []);

  /** The ticket as read now: the header takes its status and totals. */
  const takeSnapshot = useCallback((read: Ticket) => {
    snapshot.current = read;
    setTicket(read);
    setSummary((previous) => ({
      ...(previous ?? summaryOf(read)),
      status: read.status,
      reason: read.reason,
      attempt: read.attempt,
      usage: read.usage,
    }));
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
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
      // one round trip sooner than if the stream waited for the ticket. Events are taken in
      // only after the ticket's read: the summary starts from it.
      const events = mags.tickets.events(id, {
        follow: true,
        after: timeline.current.lastId,
        signal,
      });
      const first = events.next();
      first.catch(() => {}); // awaited below; a 404 is reported once, by the ticket's read
      const current = await mags.tickets.get(id);
      if (signal.aborted) return;
      takeSnapshot(current);
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
      if (signal.aborted) return;
      takeSnapshot(ended);
      setState('ended');
      // Idle now. A run started elsewhere shows in the owner's ticket stream (each ticket's
      // snapshot as it changes): follow the events again once this one is queued or running.
      for await (const changed of followTicketSnapshots(mags, id, ended.project, signal)) {
        takeSnapshot(changed);
        if (active(changed)) {
          setGeneration((value) => value + 1);
          return;
        }
      }
    };
    run().catch((caught: unknown) => {
      if (signal.aborted) return;
      controller.abort(); // the events' stream, if the ticket's read failed first
      setError(caught);
      setState('ended');
    });
    return () => {
      controller.abort();
      cancelAnimationFrame(frame);
    };
  }, [mags, id, generation, add, takeSnapshot]);

  const follow = useCallback(
    (next?: Ticket) => {
      if (next) takeSnapshot(next);
      setError(undefined);
      setGeneration((value) => value + 1);
    },
    [takeSnapshot],
  );

  return {
    ticket,
    summary,
    timeline: timeline.current,
    version,
    state,
    error,
    add,
    follow,
  };
}
