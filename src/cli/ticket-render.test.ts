import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TicketEvent } from '../api/tickets.ts';
import { newWatchState, renderTicketEvent, terminalSafe } from './ticket-render.ts';

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
