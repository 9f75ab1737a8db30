import type { Ticket, TicketEvent, TicketStatus, TokenUsage } from '../../api/tickets.ts';

/**
 * What the ticket page lists: each event as it came, except model text, whose deltas of one
 * step are joined into one growing block (each delta keeps its own id for `data-event-id`).
 * Append-only: a batch of events adds items and at most replaces the last text block, so every
 * other item keeps its identity and its row is not rendered again.
 */
export type TimelineItem =
  | {
      kind: 'text';
      key: string;
      attempt: number;
      step: number;
      parts: Array<{ id: number; text: string }>;
    }
  | { kind: 'event'; key: string; event: TicketEvent };

export type CheckStatus = 'met' | 'not_met' | 'needs_person';

/** The running summary the header shows, kept in step with the events. */
export interface TicketSummary {
  status: TicketStatus;
  reason: string | null;
  attempt: number;
  usage: TokenUsage;
  /** The latest check of each criterion (by index), of the latest attempt that checked. */
  checks: Array<{ status: CheckStatus; exitCode: number | null } | undefined>;
  /** An `evidence` event was seen: the evidence page has something to show. */
  evidence: boolean;
}

export function summaryOf(ticket: Ticket): TicketSummary {
  return {
    status: ticket.status,
    reason: ticket.reason,
    attempt: ticket.attempt,
    usage: ticket.usage,
    checks: [],
    evidence: false,
  };
}

export interface Timeline {
  items: TimelineItem[];
  /** The last event id taken in: a resumed stream starts after it. */
  lastId: number;
}

export const emptyTimeline: Timeline = { items: [], lastId: 0 };

/** The timeline with `events` appended (ones already in it, by id, are skipped). */
export function appendEvents(timeline: Timeline, events: TicketEvent[]): Timeline {
  const items = timeline.items.slice();
  let lastId = timeline.lastId;
  for (const event of events) {
    if (event.id <= lastId) continue;
    lastId = event.id;
    const data = event.data;
    const last = items.at(-1);
    if (data.type === 'text') {
      const part = { id: event.id, text: data.text };
      if (last?.kind === 'text' && last.attempt === event.attempt && last.step === data.step) {
        items[items.length - 1] = { ...last, parts: [...last.parts, part] };
      } else {
        items.push({
          kind: 'text',
          key: `text-${event.id}`,
          attempt: event.attempt,
          step: data.step,
          parts: [part],
        });
      }
    } else {
      items.push({ kind: 'event', key: `event-${event.id}`, event });
    }
  }
  return { items, lastId };
}

/** The summary after `events`. */
export function summarize(summary: TicketSummary, events: TicketEvent[]): TicketSummary {
  let next = summary;
  for (const event of events) {
    const data = event.data;
    if (data.type === 'status') {
      next = { ...next, status: data.to, reason: data.reason, attempt: event.attempt };
    } else if (data.type === 'usage') {
      next = { ...next, usage: data.total };
    } else if (data.type === 'check') {
      const checks = next.checks.slice();
      checks[data.criterion] = { status: data.status, exitCode: data.exitCode };
      next = { ...next, checks };
    } else if (data.type === 'evidence') {
      next = { ...next, evidence: true };
    }
  }
  return next;
}
