import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Evidence, type TicketEvent, TicketStatusSchema } from '../api/tickets.ts';
import {
  newWatchState,
  renderTicket,
  renderTicketEvent,
  renderTimeline,
  terminalSafe,
  watchExitCode,
} from './ticket-render.ts';

const event = (data: TicketEvent['data']): TicketEvent => ({
  id: 1,
  attempt: 1,
  at: '2025-01-01T00:00:00.000Z',
  data,
});

test('watch takes escape sequences and control characters out of what the agent controls', () => {
  const output =
    'plain \x1b[2J\x1b[31mred\x1b[0m\x1b]0;new title\x07 \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\r\n\tnext\x07\x9b1Aline\n';
  const shown = renderTicketEvent(
    event({
      type: 'command',
      step: 1,
      toolCallId: null,
      source: 'agent',
      command: 'printf "\\033[2J"\x1b[1A',
      exitCode: 0,
      durationMs: 5,
      timedOut: false,
      output,
      outputBytes: output.length,
    }),
    newWatchState(),
  );
  assert.equal(
    shown,
    '$ printf "\\033[2J"  [agent, exit 0, 5 ms]\n  plain red link\n  \tnextline\n',
  );
  const state = newWatchState();
  assert.equal(
    renderTicketEvent(event({ type: 'text', step: 1, text: 'hi\x1b[8m there' }), state),
    'hi there',
  );
  assert.equal(state.midText, true);
  assert.equal(terminalSafe('a\x1b'), 'a');
  assert.equal(terminalSafe('tab\tand\nnewline'), 'tab\tand\nnewline');
});

test('the timeline counts an event before the attempt started down to it, never as -0.0s', () => {
  const evidence = {
    attempt: 2,
    startedAt: '2025-01-01T00:00:10.000Z',
    timeline: [
      { at: '2025-01-01T00:00:07.500Z', event: 'queued' },
      { at: '2025-01-01T00:00:09.990Z', event: 'queued again' },
      { at: '2025-01-01T00:00:11.250Z', event: 'running: attempt 2' },
    ],
  } as Evidence;
  assert.equal(
    renderTimeline(evidence),
    'timeline (attempt 2):\n  -   2.5s  queued\n  +   0.0s  queued again\n  +   1.3s  running: attempt 2\n',
  );
});

test('show: the budget the ticket sets, and a check in watch with its mark and exit code', () => {
  const shown = renderTicket({
    id: 'tkt_1',
    project: 'app',
    title: 'T',
    request: 'R',
    criteria: [{ text: 'c' }],
    role: 'developer',
    model: null,
    budget: { maxSteps: 1, maxWallMs: 90_000 },
    status: 'draft',
    reason: null,
    workspace: null,
    baseCommit: null,
    baseTree: null,
    attempt: 0,
    usage: { inputTokens: 3, outputTokens: 4, costUsd: 0, steps: 1 },
    branch: null,
    commit: null,
    plan: null,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
  });
  assert.match(shown, /^budget: {4}1 step, 90s \(the rest: the server's defaults\)$/m);
  assert.match(shown, /^usage: {5}\$0\.0000, 3 in \/ 4 out tokens, 1 step$/m);
  const check = (status: 'met' | 'not_met' | 'needs_person', exitCode: number | null) =>
    renderTicketEvent(event({ type: 'check', criterion: 0, status, exitCode }), newWatchState());
  assert.equal(check('met', 0), '✔ criterion 1: met (exit 0)\n');
  assert.equal(check('not_met', 2), '✖ criterion 1: not met (exit 2)\n');
  assert.equal(check('needs_person', null), '? criterion 1: needs a person\n');
});

test('watch exits 1 for a failed ticket, 3 for a stopped one, 0 for any other end', () => {
  const codes = Object.fromEntries(
    TicketStatusSchema.options.map((status) => [status, watchExitCode(status)]),
  );
  assert.deepEqual(codes, {
    draft: 0,
    queued: 0,
    running: 0,
    awaiting_review: 0,
    changes_requested: 0,
    approved: 0,
    closed: 0,
    failed: 1,
    stopped: 3,
  });
});
