import type { Ticket, TicketEvent, TicketStatus, TokenUsage } from '../../api/tickets.ts';
import { AnsiParser, type AnsiSpan } from '../components/ansi-spans.ts';

/** One delta of model text, parsed once (its escapes carried over from the delta before). */
export interface TextPart {
  id: number;
  spans: AnsiSpan[];
}

/**
 * What the ticket page lists: each event as it came, except model text, whose deltas of one
 * step are joined into one growing block (each delta keeps its own id for `data-event-id`).
 * Append-only and mutated in place (a long ticket costs each event once, not a copy of the
 * list per frame): a text block's `version` says it grew, the timeline's that anything did.
 */
export type TimelineItem =
  | {
      kind: 'text';
      key: string;
      attempt: number;
      step: number;
      parts: TextPart[];
      version: number;
      parser: AnsiParser;
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
  /** Bumped by each append that added something. */
  version: number;
}

export const newTimeline = (): Timeline => ({ items: [], lastId: 0, version: 0 });

/** Appends `events` in place (ones already in it, by id, are skipped); true if any was new. */
export function appendEvents(timeline: Timeline, events: TicketEvent[]): boolean {
  const { items } = timeline;
  const before = timeline.lastId;
  for (const event of events) {
    if (event.id <= timeline.lastId) continue;
    timeline.lastId = event.id;
    const data = event.data;
    const last = items.at(-1);
    if (data.type === 'text') {
      if (last?.kind === 'text' && last.attempt === event.attempt && last.step === data.step) {
        last.parser.push(data.text);
        last.parts.push({ id: event.id, spans: last.parser.takeAll() });
        last.version++;
      } else {
        const parser = new AnsiParser();
        parser.push(data.text);
        items.push({
          kind: 'text',
          key: `text-${event.id}`,
          attempt: event.attempt,
          step: data.step,
          parts: [{ id: event.id, spans: parser.takeAll() }],
          version: 0,
          parser,
        });
      }
    } else {
      items.push({ kind: 'event', key: `event-${event.id}`, event });
    }
  }
  if (timeline.lastId === before) return false;
  timeline.version++;
  return true;
}

/**
 * The summary after `events`, never going back behind `snapshot` (the ticket as read when the
 * page opened or the stream ended): the page follows a ticket's events from its first, so it
 * replays old statuses and totals after reading the ticket as it is now.
 *
 * A status change is stored as its event first, then on the ticket with `updatedAt` taken just
 * before the event's `at` (ticket-recorder.ts): the events the snapshot already reflects are
 * those at or before its `updatedAt`, and the one that made its status is the first at or after
 * it. So a status event is applied when it is later than the snapshot, or at the same
 * millisecond and to the snapshot's status (a no-op then). Totals only grow: a `usage` event is
 * applied when it is not behind the summary's.
 */
export function summarize(
  summary: TicketSummary,
  events: TicketEvent[],
  snapshot: Pick<Ticket, 'status' | 'updatedAt'>,
): TicketSummary {
  let next = summary;
  for (const event of events) {
    const data = event.data;
    if (data.type === 'status') {
      const later =
        event.at > snapshot.updatedAt ||
        (event.at === snapshot.updatedAt && data.to === snapshot.status);
      if (later) next = { ...next, status: data.to, reason: data.reason, attempt: event.attempt };
    } else if (data.type === 'usage') {
      if (notBehind(data.total, next.usage)) next = { ...next, usage: data.total };
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

const notBehind = (total: TokenUsage, shown: TokenUsage) =>
  total.steps >= shown.steps &&
  total.costUsd >= shown.costUsd &&
  total.inputTokens >= shown.inputTokens &&
  total.outputTokens >= shown.outputTokens;
