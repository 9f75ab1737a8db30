import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlanTicket } from '../api/plans.ts';
import { pendingItems, planProgress, readyItems, settleBlocked } from './plan-items.ts';

const spec = {
  tickets: [
    { key: 'a', dependsOn: [] },
    { key: 'b', dependsOn: ['a'] },
    { key: 'c', dependsOn: ['b'] },
    { key: 'd', dependsOn: [] },
  ].map((ticket) => ({ ...ticket, title: ticket.key, request: 'r', criteria: [{ text: 't' }] })),
};
const order = ['a', 'b', 'c', 'd'];

function items(): PlanTicket[] {
  return pendingItems(spec).map((item) => ({ ...item, state: 'waiting' }));
}

test('a failed ticket blocks its dependents through the chain; retried, they wait again', () => {
  const plan = items();
  Object.assign(plan[0] as PlanTicket, {
    state: 'dispatched',
    ticket: 'tkt_a',
    ticketStatus: 'failed',
    reason: 'the agent failed',
  });
  Object.assign(plan[3] as PlanTicket, {
    state: 'dispatched',
    ticket: 'tkt_d',
    ticketStatus: 'approved',
  });
  const changes = settleBlocked(plan, order);
  assert.deepEqual(
    changes.map((change) => `${change.key}:${change.to}:${change.reason}`),
    [
      'b:blocked:blocked by a (tkt_a) failed: the agent failed',
      'c:blocked:blocked by a (tkt_a) failed: the agent failed',
    ],
  );
  assert.deepEqual(
    plan.map((item) => item.blockedBy ?? null),
    [null, 'a', 'a', null],
    'b and c are blocked by a (c through b), as a field',
  );
  assert.deepEqual(planProgress(plan), {
    next: 'blocked',
    reason: 'a (tkt_a) failed: the agent failed; b, c wait for it',
  });
  Object.assign(plan[0] as PlanTicket, { ticketStatus: 'queued', reason: null });
  assert.deepEqual(
    settleBlocked(plan, order).map((change) => `${change.key}:${change.to}`),
    ['b:waiting', 'c:waiting'],
  );
  assert.deepEqual(
    plan.map((item) => item.blockedBy ?? null),
    [null, null, null, null],
  );
  assert.deepEqual(planProgress(plan), { next: 'moving' });
  assert.deepEqual(readyItems(plan, order), []);
  Object.assign(plan[0] as PlanTicket, { ticketStatus: 'approved' });
  assert.deepEqual(
    readyItems(plan, order).map((item) => item.key),
    ['b'],
  );
});

test('every ticket approved: integrate', () => {
  const plan = items().map((item) => ({
    ...item,
    state: 'dispatched' as const,
    ticketStatus: 'approved' as const,
  }));
  assert.deepEqual(planProgress(plan), { next: 'integrate' });
});

test("an item blocked with a reason that reads 'blocked by' but no dependency blocks it is a dead end", () => {
  const plan = items();
  // Could not start for a reason whose words happen to begin so: a dead end, not blocked by a.
  Object.assign(plan[0] as PlanTicket, { state: 'blocked', reason: 'blocked by the disk quota' });
  Object.assign(plan[3] as PlanTicket, { state: 'dispatched', ticketStatus: 'approved' });
  const changes = settleBlocked(plan, order);
  assert.deepEqual(
    changes.map((change) => `${change.key}:${change.to}:${change.reason}`),
    [
      'b:blocked:blocked by a: blocked by the disk quota',
      'c:blocked:blocked by a: blocked by the disk quota',
    ],
  );
  assert.equal(plan[0]?.blockedBy, undefined, 'a is the dead end itself');
  assert.deepEqual(planProgress(plan), {
    next: 'blocked',
    reason: 'a: blocked by the disk quota; b, c wait for it',
  });
});
