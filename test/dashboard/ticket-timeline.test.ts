/**
 * The ticket page's timeline and header summary, without a browser: model text deltas are parsed
 * once each, an escape cut between two deltas colours the text after it; the timeline grows in
 * place; the summary never goes back behind the ticket as read while old events replay.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Ticket, TicketEvent, TicketEventData } from '../../src/api/tickets.ts';
import {
  appendEvents,
  newTimeline,
  summarize,
  summaryOf,
} from '../../src/dashboard/ticket/ticket-timeline.ts';

const esc = '\u001b';
const event = (id: number, at: string, data: TicketEventData): TicketEvent => ({
  id,
  attempt: 1,
  at,
  data,
});
const text = (id: number, chunk: string) =>
  event(id, '2026-01-01T00:00:01.000Z', { type: 'text', step: 1, text: chunk });

test('an escape cut between two text deltas colours what follows; each delta keeps its id', () => {
  const timeline = newTimeline();
  const items = timeline.items;
  assert.equal(appendEvents(timeline, [text(1, `plain ${esc}[3`)]), true);
  assert.equal(appendEvents(timeline, [text(2, `1mred${esc}`), text(3, '[0m done')]), true);
  assert.equal(appendEvents(timeline, [text(2, 'again')]), false, 'an event seen is skipped');
  assert.equal(timeline.items, items, 'grown in place');
  assert.equal(timeline.version, 2);
  const [block] = timeline.items;
  assert.equal(block?.kind, 'text');
  if (block?.kind !== 'text') return;
  assert.equal(block.version, 2);
  assert.deepEqual(
    block.parts.map((part) => [part.id, part.spans.map((span) => [span.text, span.classes])]),
    [
      [1, [['plain ', '']]],
      [2, [['red', 'ansi-red']]],
      [3, [[' done', '']]],
    ],
  );
});

const usage = (steps: number, costUsd: number) => ({
  inputTokens: steps * 100,
  outputTokens: steps * 10,
  costUsd,
  steps,
});

test('the summary starts from the ticket as read: replayed statuses and totals do not move it back', () => {
  const at = (second: number) => `2026-01-01T00:00:${String(second).padStart(2, '0')}.000Z`;
  const status = (
    id: number,
    second: number,
    from: Ticket['status'] | null,
    to: Ticket['status'],
  ) => event(id, at(second), { type: 'status', from, to, reason: null });
  const step = (id: number, second: number, steps: number, costUsd: number) =>
    event(id, at(second), {
      type: 'usage',
      step: steps,
      model: 'm',
      inputTokens: 100,
      outputTokens: 10,
      costUsd: 0.01,
      total: usage(steps, costUsd),
    });
  // Read when it was awaiting review after two steps; its status changed at second 5.
  const read = {
    ...({} as Ticket),
    status: 'awaiting_review' as const,
    reason: null,
    attempt: 1,
    usage: usage(2, 0.02),
    updatedAt: at(5),
  };
  const history = [
    status(1, 1, null, 'draft'),
    status(2, 2, 'draft', 'queued'),
    status(3, 2, 'queued', 'running'),
    step(4, 3, 1, 0.01),
    step(5, 4, 2, 0.02),
    event(6, at(4), { type: 'check', criterion: 0, status: 'met', exitCode: 0 }),
    status(7, 5, 'running', 'awaiting_review'),
  ];
  let summary = summaryOf(read);
  for (const each of history) {
    summary = summarize(summary, [each], read);
    assert.equal(summary.status, 'awaiting_review', `after event ${each.id}`);
    assert.deepEqual(summary.usage, usage(2, 0.02), `after event ${each.id}`);
  }
  assert.deepEqual(summary.checks, [{ status: 'met', exitCode: 0 }]);
  // What happens after the read moves it on: a run again, its next step.
  summary = summarize(
    summary,
    [status(8, 6, 'awaiting_review', 'queued'), step(9, 7, 3, 0.03)],
    read,
  );
  assert.equal(summary.status, 'queued');
  assert.deepEqual(summary.usage, usage(3, 0.03));
  // A status change in the read's millisecond: only the one to the read's status (a no-op).
  const same = summarize(summaryOf(read), [status(10, 5, 'queued', 'running')], read);
  assert.equal(same.status, 'awaiting_review');
});
