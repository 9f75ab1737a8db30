import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noUsage } from '../agents/token-usage.ts';
import type { PlanTicket } from '../api/plans.ts';
import type { PlanRecord } from '../state/state-repository.ts';
import { OwnerSlots } from './owner-slots.ts';
import { autoApprovalRefusal } from './plan-auto-approval.ts';
import { budgetWithinPlan } from './plan-budget.ts';
import { PlanWallTimers } from './plan-wall-timers.ts';

const item = (key: string, state: PlanTicket['state']): PlanTicket => ({
  key,
  title: key,
  request: key,
  criteria: [{ text: 'x' }],
  dependsOn: [],
  state,
  reason: null,
  ticket: null,
  ticketStatus: state === 'dispatched' ? 'running' : null,
  usage: noUsage,
  conflictFiles: [],
});

test("owner slots: a reservation counts for the owner's other plans at once; release gives it back", () => {
  const slots = new OwnerSlots();
  const one = {
    owner: 'alice',
    id: 'pln_1',
    tickets: [item('a', 'waiting')],
    status: 'running' as const,
  };
  const two = {
    owner: 'alice',
    id: 'pln_2',
    tickets: [item('b', 'waiting')],
    status: 'running' as const,
  };
  slots.reserve('alice', one.id, 'a');
  assert.equal(slots.count(two), 1, 'the other plan sees the slot before plan 1 saved anything');
  assert.equal(slots.count(one), 0, "a plan's own items count as they say");
  slots.release('alice', one.id, 'a');
  assert.equal(slots.count(two), 0);
  one.tickets = [item('a', 'dispatched')];
  assert.equal(slots.sync(one), false);
  assert.equal(slots.count(two), 1);
  assert.equal(slots.sync({ ...one, status: 'stopped' }), true, 'a stopped plan frees its slots');
  assert.equal(slots.count({ ...two, owner: 'bob' }), 0, "another owner's count is theirs");
});

test('wall timers: a budget longer than one timer can wait fires only when it is really up', async () => {
  const fired: number[] = [];
  let resolve!: () => void;
  const done = new Promise<void>((settle) => {
    resolve = settle;
  });
  // Each timer waits at most 5 ms: a 200 ms budget takes many re-arms.
  const timers = new PlanWallTimers(
    (plan) => {
      fired.push(Date.now() - Date.parse(plan.approvedAt ?? ''));
      resolve();
    },
    { maxDelayMs: 5 },
  );
  const plan = {
    id: 'pln_t',
    budget: { maxWallMs: 200 },
    approvedAt: new Date().toISOString(),
  } as PlanRecord;
  timers.arm(plan);
  await done;
  assert.equal(fired.length, 1);
  assert.ok((fired[0] ?? 0) >= 200, `fired ${fired[0]} ms after approval, before its 200 ms`);
  assert.equal(timers.armed(plan.id), false);
});

test('auto-approval refuses without evidence, with an unmet criterion or failed tests', () => {
  const met = { text: 'x', status: 'met' as const };
  assert.equal(autoApprovalRefusal(undefined), 'it has no evidence');
  assert.equal(
    autoApprovalRefusal({ criteria: [met, { ...met, status: 'unmet' }], tests: null } as never),
    '1 of 2 criteria not verified met',
  );
  const tests = {
    command: 't',
    exitCode: 1,
    timedOut: false,
    durationMs: 1,
    counts: null,
    log: '',
  };
  assert.equal(
    autoApprovalRefusal({ criteria: [met], tests } as never),
    'its tests failed (exit 1)',
  );
  assert.equal(
    autoApprovalRefusal({ criteria: [met], tests: { ...tests, exitCode: 0 } } as never),
    null,
  );
});

test("a ticket's budget is capped at what the plan has left (its own usage plus the plan's rest)", () => {
  const used = { inputTokens: 300, outputTokens: 100, costUsd: 0.3, steps: 2 };
  const ticket = { budget: { maxCostUsd: 5, maxSteps: 10 }, usage: { ...used, costUsd: 0.1 } };
  const capped = budgetWithinPlan({ maxCostUsd: 1, maxTokens: 1000 }, used, ticket);
  assert.ok(Math.abs((capped?.maxCostUsd ?? 0) - 0.8) < 1e-9, `${capped?.maxCostUsd}`);
  assert.equal(capped?.maxTokens, 400 + 600);
  assert.equal(
    budgetWithinPlan({ maxCostUsd: 10 }, used, ticket),
    undefined,
    "a ticket's own smaller budget stands",
  );
  assert.deepEqual(budgetWithinPlan({}, used, ticket, { maxSteps: 3 }), { maxSteps: 3 });
});
