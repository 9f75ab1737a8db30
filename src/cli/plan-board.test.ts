import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { Plan, PlanEvent, PlanEventData, PlanTicket } from '../api/plans.ts';
import type { TicketEvent } from '../api/tickets.ts';
import { LiveBoard } from './live-board.ts';
import { nextStep } from './plan-next-step.ts';
import { applyPlanEvent, cut, newPlanWatchState, renderPlanBoard } from './plan-watch-state.ts';

const usage = () => ({ inputTokens: 0, outputTokens: 0, costUsd: 0, steps: 0 });
const ticket = (key: string, extra: Partial<PlanTicket> = {}): PlanTicket => ({
  key,
  title: key,
  request: 'r',
  criteria: [{ text: 'c' }],
  dependsOn: [],
  state: 'pending',
  reason: null,
  ticket: null,
  ticketStatus: null,
  usage: usage(),
  conflictFiles: [],
  ...extra,
});
const plan = (extra: Partial<Plan> = {}): Plan => ({
  id: 'pln_board1',
  project: 'app',
  request: 'r',
  summary: 's',
  status: 'running',
  reason: null,
  model: null,
  auto: false,
  autoApprove: false,
  maxParallel: 4,
  budget: {},
  usage: usage(),
  tickets: [ticket('one'), ticket('two')],
  baseCommit: null,
  integration: null,
  branch: null,
  commit: null,
  approvedAt: null,
  createdAt: '2026-11-29T10:00:00.000Z',
  updatedAt: '2026-11-29T10:00:00.000Z',
  ...extra,
});
let eventId = 0;
const event = (data: PlanEventData, at = '2026-11-29T10:00:01.000Z'): PlanEvent => ({
  id: ++eventId,
  at,
  data,
});
const ticketEvent = (key: string, data: TicketEvent['data']): PlanEvent =>
  event({
    type: 'ticket_event',
    key,
    ticket: `tkt_${key}`,
    event: { id: 1, attempt: 1, at: '2026-11-29T10:00:01.000Z', data } as TicketEvent,
  });

test('multi-line and tabbed reasons and activities stay one board line each; ESC and CSI are taken out', () => {
  const state = newPlanWatchState(plan({ reason: 'first\nsecond\r\nthird' }));
  applyPlanEvent(
    state,
    ticketEvent('one', {
      type: 'status',
      from: 'draft',
      to: 'running',
      reason: 'line one\nline two\tand a tab \x1b[2J\x1b]0;title\x07\x9b31mred',
    }),
  );
  const lines = renderPlanBoard(state, { columns: 200, now: Date.parse(state.plan.createdAt) });
  assert.equal(lines.length, 1 + 1 + 2, 'header, reason, two tickets');
  for (const line of lines) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
    assert.doesNotMatch(line, /[\n\r\t\x1b\x9b\x07]/, JSON.stringify(line));
  }
  assert.match(lines[1] ?? '', /^ {2}first second third$/);
  assert.match(lines[2] ?? '', /line one line two and a tab red$/);
});

test('the board fits the terminal’s rows: the rest summed up in one line', () => {
  const tickets = Array.from({ length: 20 }, (_, index) => ticket(`t${index}`));
  const lines = renderPlanBoard(newPlanWatchState(plan({ tickets })), {
    columns: 80,
    rows: 10,
    now: Date.now(),
  });
  assert.equal(lines.length, 9, 'the rows less the cursor’s line');
  assert.equal(lines.at(-1), '  … 13 more tickets');
});

test('cut by display width: wide characters take two columns', () => {
  assert.equal(cut('漢字漢字漢字漢字漢字漢字', 12), '漢字漢字漢…');
  assert.equal(cut('abcdefghij', 20), 'abcdefghij');
  assert.equal(cut('abcdefghijklmnop', 12), 'abcdefghij…');
});

test('a retried ticket drops the old ticket’s status; a settled plan’s time ends where it settled', () => {
  const state = newPlanWatchState(
    plan({
      tickets: [ticket('one', { state: 'dispatched', ticket: 'tkt_a', ticketStatus: 'failed' })],
    }),
  );
  applyPlanEvent(
    state,
    event({
      type: 'ticket_state',
      key: 'one',
      ticket: 'tkt_b',
      from: 'dispatched',
      to: 'dispatched',
      reason: 'retried',
    }),
  );
  const row = state.rows.get('one');
  assert.equal(row?.ticket.ticket, 'tkt_b');
  assert.equal(row?.ticket.ticketStatus, null);
  applyPlanEvent(
    state,
    event(
      { type: 'plan_status', from: 'running', to: 'stopped', reason: null },
      '2026-11-29T10:02:00.000Z',
    ),
  );
  const [header] = renderPlanBoard(state, {
    columns: 200,
    now: Date.parse('2026-11-29T12:00:00.000Z'),
  });
  assert.match(header ?? '', / 2m 00s$/);
});

test('the live board clears and redraws on resize', () => {
  const written: string[] = [];
  const stream = Object.assign(new EventEmitter(), {
    write: (text: string) => written.push(text),
    columns: 50,
    rows: 5,
  });
  let redraws = 0;
  const board = new LiveBoard(stream as unknown as NodeJS.WriteStream, () => {
    redraws++;
    board.draw(['a', 'b']);
  });
  assert.equal(board.rows, 5);
  board.draw(['a', 'b']);
  stream.emit('resize');
  board.end();
  stream.emit('resize'); // after end: nothing
  assert.equal(redraws, 1);
  assert.deepEqual(written, ['\x1b[?25l', 'a\nb', '\x1b[H\x1b[2J', 'a\nb', '\n', '\x1b[?25h']);
});

test('nextStep quotes the plan’s reason terminal-safe', () => {
  const text = nextStep(
    plan({ status: 'failed', reason: 'gave up \x1b[31mred\x1b]0;x\x07 \x9b2J' }),
  );
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  assert.doesNotMatch(text, /[\x1b\x9b\x07]/);
  assert.match(text, /^gave up red/);
});
