import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TicketEvent, TicketEventData, TicketStatus } from '../api/tickets.ts';
import { attemptTimeline } from './attempt-timeline.ts';

const events = (...items: [number, TicketEventData][]): TicketEvent[] =>
  items.map(([attempt, data], index) => ({
    id: index + 1,
    attempt,
    at: `2025-01-01T00:00:0${index}.000Z`,
    data,
  }));

const status = (
  from: TicketStatus | null,
  to: TicketStatus,
  reason: string | null,
): TicketEventData => ({ type: 'status', from, to, reason });

test('an attempt queued by a request for changes starts with it (recorded under the attempt reviewed)', () => {
  const log = events(
    [0, status(null, 'draft', null)],
    [1, status('draft', 'queued', null)],
    [1, status('queued', 'running', 'attempt 1')],
    [1, status('running', 'awaiting_review', 'all 1 criteria met')],
    [1, { type: 'comment', author: 'alice', text: 'also say goodbye' }],
    [
      1,
      status(
        'awaiting_review',
        'changes_requested',
        'changes requested by alice: also say goodbye',
      ),
    ],
    [2, status('changes_requested', 'queued', null)],
    [2, status('queued', 'running', 'attempt 2')],
  );
  assert.deepEqual(
    attemptTimeline(log, 2).map((entry) => [entry.at, entry.event]),
    [
      [
        '2025-01-01T00:00:05.000Z',
        'changes_requested: changes requested by alice: also say goodbye',
      ],
      ['2025-01-01T00:00:06.000Z', 'queued'],
      ['2025-01-01T00:00:07.000Z', 'running: attempt 2'],
    ],
  );
  assert.deepEqual(
    attemptTimeline(log, 1).map((entry) => entry.event),
    [
      'queued',
      'running: attempt 1',
      'awaiting_review: all 1 criteria met',
      'changes_requested: changes requested by alice: also say goodbye',
    ],
  );
});

test('an attempt run again after a stop (no request for changes) starts with its queueing', () => {
  const log = events(
    [1, status('queued', 'running', 'attempt 1')],
    [1, status('running', 'stopped', 'stopped by alice')],
    [2, status('stopped', 'queued', null)],
  );
  assert.deepEqual(
    attemptTimeline(log, 2).map((entry) => entry.event),
    ['queued'],
  );
});
