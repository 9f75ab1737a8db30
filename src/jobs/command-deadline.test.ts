import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { commandDeadline } from './command-deadline.ts';

// Mocked timers: the deadline is checked at exact moments, with no waiting and no root.
beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

function recorder() {
  const calls: string[] = [];
  return {
    calls,
    terminate: () => calls.push('terminate'),
    kill: () => calls.push('kill'),
  };
}

test('at the timeout the command gets SIGTERM, and is killed once the grace period is over', () => {
  const command = recorder();
  const deadline = commandDeadline({ timeoutMs: 1000, killGraceMs: 200, ...command });
  mock.timers.tick(999);
  assert.deepEqual(command.calls, []);
  assert.equal(deadline.timedOut, false);
  mock.timers.tick(1);
  assert.deepEqual(command.calls, ['terminate']);
  assert.equal(deadline.timedOut, true);
  assert.equal(deadline.stopped, false);
  mock.timers.tick(199);
  assert.deepEqual(command.calls, ['terminate']);
  mock.timers.tick(1);
  assert.deepEqual(command.calls, ['terminate', 'kill']);
  deadline.clear();
});

test('a command that ends in the grace period is not killed', () => {
  const command = recorder();
  const deadline = commandDeadline({ timeoutMs: 1000, killGraceMs: 200, ...command });
  mock.timers.tick(1100);
  deadline.clear(); // it ended after the SIGTERM
  mock.timers.tick(10_000);
  assert.deepEqual(command.calls, ['terminate']);
  assert.equal(deadline.timedOut, true);
});

test('a command that ends in time gets no signal', () => {
  const command = recorder();
  const deadline = commandDeadline({ timeoutMs: 1000, killGraceMs: 200, ...command });
  mock.timers.tick(500);
  deadline.clear();
  mock.timers.tick(10_000);
  assert.deepEqual(command.calls, []);
  assert.equal(deadline.timedOut, false);
  assert.equal(deadline.stopped, false);
});

test('a stop request ends it the same way, as stopped rather than timed out', () => {
  const command = recorder();
  const abort = new AbortController();
  const deadline = commandDeadline({
    timeoutMs: 1000,
    killGraceMs: 200,
    signal: abort.signal,
    ...command,
  });
  mock.timers.tick(300);
  abort.abort();
  assert.deepEqual(command.calls, ['terminate']);
  assert.equal(deadline.stopped, true);
  assert.equal(deadline.timedOut, false);
  mock.timers.tick(200);
  assert.deepEqual(command.calls, ['terminate', 'kill']);
  deadline.clear();
});

test('a request to stop made before the command started stops it at once', () => {
  const command = recorder();
  const abort = new AbortController();
  abort.abort();
  const deadline = commandDeadline({
    timeoutMs: 1000,
    killGraceMs: 200,
    signal: abort.signal,
    ...command,
  });
  assert.deepEqual(command.calls, ['terminate']);
  assert.equal(deadline.stopped, true);
  mock.timers.tick(200);
  assert.deepEqual(command.calls, ['terminate', 'kill']);
  deadline.clear();
});

test('a timeout and then a stop request kill only once, after the first grace period', () => {
  const command = recorder();
  const abort = new AbortController();
  const deadline = commandDeadline({
    timeoutMs: 1000,
    killGraceMs: 200,
    signal: abort.signal,
    ...command,
  });
  mock.timers.tick(1000);
  mock.timers.tick(150);
  abort.abort(); // SIGTERM again, but the kill keeps its time
  mock.timers.tick(50);
  assert.deepEqual(command.calls, ['terminate', 'terminate', 'kill']);
  mock.timers.tick(10_000);
  assert.deepEqual(command.calls, ['terminate', 'terminate', 'kill']);
  assert.equal(deadline.timedOut, true);
  assert.equal(deadline.stopped, true);
  deadline.clear();
});

test('after clear, a stop request sends nothing', () => {
  const command = recorder();
  const abort = new AbortController();
  const deadline = commandDeadline({
    timeoutMs: 1000,
    killGraceMs: 200,
    signal: abort.signal,
    ...command,
  });
  deadline.clear();
  abort.abort();
  mock.timers.tick(10_000);
  assert.deepEqual(command.calls, []);
  assert.equal(deadline.stopped, false);
});
