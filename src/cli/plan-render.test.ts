import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { Plan, PlanEvent, PlanEventData, PlanEvidence, PlanTicket } from '../api/plans.ts';
import type { TicketEvent } from '../api/tickets.ts';
import { addCriterion, planSpecOf, removeTicket } from './client/plan-edits.ts';
import { LiveBoard } from './live-board.ts';
import { renderPlanEvidence } from './plan-evidence-render.ts';
import { nextStep } from './plan-next-step.ts';
import {
  plannerLine,
  planWatchExitCode,
  renderPlan,
  renderPlanTickets,
  ticketsByDependencies,
} from './plan-render.ts';
import { applyPlanEvent, newPlanWatchState, renderPlanBoard } from './plan-watch-state.ts';

const usage = (costUsd = 0) => ({ inputTokens: 0, outputTokens: 0, costUsd, steps: 0 });

function ticket(key: string, dependsOn: string[], extra: Partial<PlanTicket> = {}): PlanTicket {
  return {
    key,
    title: `Do ${key}`,
    request: `Please do ${key}.`,
    criteria: [{ text: `${key} works`, check: 'npm test' }],
    dependsOn,
    state: 'pending',
    reason: null,
    ticket: null,
    ticketStatus: null,
    usage: usage(),
    conflictFiles: [],
    ...extra,
  };
}

/** A diamond: api and ui after schema, docs after both; listed out of order on purpose. */
function diamond(extra: Partial<Plan> = {}): Plan {
  return {
    id: 'pln_test1',
    project: 'app',
    request: 'Add users',
    summary: 'Users: schema, API, UI, docs',
    status: 'draft',
    reason: null,
    model: null,
    auto: false,
    autoApprove: false,
    maxParallel: 4,
    budget: { maxCostUsd: 5 },
    usage: usage(0.5),
    tickets: [
      ticket('docs', ['api', 'ui']),
      ticket('api', ['schema']),
      ticket('schema', []),
      ticket('ui', ['schema']),
    ],
    baseCommit: null,
    integration: null,
    branch: null,
    commit: null,
    approvedAt: null,
    createdAt: '2026-11-29T10:00:00.000Z',
    updatedAt: '2026-11-29T10:00:00.000Z',
    ...extra,
  };
}

let eventId = 0;
const event = (data: PlanEventData): PlanEvent => ({
  id: ++eventId,
  at: '2026-11-29T10:00:01.000Z',
  data,
});
const ticketEvent = (key: string, data: TicketEvent['data']): PlanEvent =>
  event({
    type: 'ticket_event',
    key,
    ticket: `tkt_${key}`,
    event: { id: 1, attempt: 1, at: '2026-11-29T10:00:01.000Z', data } as TicketEvent,
  });

test('tickets come after their dependencies, indented by the longest chain to them', () => {
  const ordered = ticketsByDependencies(diamond().tickets).map(
    ({ ticket, depth }) => `${ticket.key}:${depth}`,
  );
  assert.deepEqual(ordered, ['schema:0', 'api:1', 'ui:1', 'docs:2']);
  const table = renderPlanTickets(diamond());
  assert.match(table[0] ?? '', /^KEY +STATUS +TICKET +DEPENDS ON +COST +TITLE$/);
  assert.match(table[1] ?? '', /^schema +· pending +- +- +- +Do schema$/);
  assert.match(table[4] ?? '', /^ {4}docs +· pending +- +api, ui +- +Do docs$/);
});

test('show: the fields, the tickets, why one is stuck; escape sequences from a plan are taken out', () => {
  const plan = diamond({ status: 'blocked', reason: 'the disk is full; docs waits for it' });
  const blocked = plan.tickets[0] as PlanTicket;
  blocked.state = 'blocked';
  blocked.reason = 'the disk is full';
  (plan.tickets[2] as PlanTicket).title = 'Evil \x1b[2J\x1b]0;title\x07schema';
  const text = renderPlan(plan);
  assert.match(text, /^id: +pln_test1$/m);
  assert.match(text, /^status: +blocked$/m, "the reason is the tickets': said under them");
  assert.match(text, /^budget: +\$5$/m);
  assert.match(text, /^ {4}docs +✖ blocked /m);
  assert.match(text, /^ {2}docs: the disk is full$/m);
  assert.match(text, /Evil schema/);
  assert.equal(text.includes('\x1b'), false);
  assert.equal(nextStep(plan), 'retry docs: mags plan retry pln_test1 docs');
});

test('a blocked plan: the failure said once (show and watch), then the retry or resolve command', () => {
  const failure = 'the agent gave up after 40 steps without the tests passing';
  const plan = diamond({
    status: 'blocked',
    reason: `api (tkt_api) failed: ${failure}; docs waits for it`,
  });
  Object.assign(plan.tickets[1] as PlanTicket, {
    state: 'dispatched',
    ticket: 'tkt_api',
    ticketStatus: 'failed',
    reason: failure,
  });
  Object.assign(plan.tickets[0] as PlanTicket, {
    state: 'blocked',
    blockedBy: 'api',
    reason: `blocked by api (tkt_api) failed: ${failure}`,
  });
  Object.assign(plan.tickets[3] as PlanTicket, { state: 'conflict', conflictFiles: ['a.ts'] });
  const shown = renderPlan(plan);
  assert.equal(shown.split(failure).length - 1, 1, shown);
  assert.match(shown, /^status: +blocked$/m);
  assert.match(shown, /^ {2}docs: waits for api$/m);
  assert.equal(
    nextStep(plan),
    "retry api: mags plan retry pln_test1 api; resolve ui's conflict in a.ts: mags plan retry pln_test1 ui",
  );

  const state = newPlanWatchState(diamond({ status: 'running' }));
  const lines = [
    ticketEvent('api', { type: 'status', from: 'running', to: 'failed', reason: failure }),
    event({
      type: 'ticket_state',
      key: 'docs',
      ticket: null,
      from: 'waiting',
      to: 'blocked',
      reason: `blocked by api (tkt_api) failed: ${failure}`,
    }),
    event({
      type: 'plan_status',
      from: 'running',
      to: 'blocked',
      reason: `api (tkt_api) failed: ${failure}; docs waits for it`,
    }),
  ].flatMap((each) => applyPlanEvent(state, each));
  assert.deepEqual(lines, [
    `api: ticket failed: ${failure}`,
    'docs: blocked (waits for api)',
    'plan blocked',
  ]);
});

test('a dispatched ticket shows its ticket status; the exit codes of watch', () => {
  const plan = diamond();
  Object.assign(plan.tickets[2] as PlanTicket, {
    state: 'dispatched',
    ticket: 'tkt_1',
    ticketStatus: 'awaiting_review',
    usage: usage(0.0123),
  });
  assert.match(renderPlanTickets(plan)[1] ?? '', /^schema +◆ awaiting_review +tkt_1 +- +\$0\.0123/);
  assert.equal(planWatchExitCode('approved'), 0);
  assert.equal(planWatchExitCode('awaiting_review'), 0);
  assert.equal(planWatchExitCode('draft'), 0);
  assert.equal(planWatchExitCode('failed'), 1);
  assert.equal(planWatchExitCode('blocked'), 1);
  assert.equal(planWatchExitCode('stopped'), 3);
});

test('the planner’s tries as plan create shows them', () => {
  assert.equal(
    plannerLine({
      type: 'planner',
      attempt: 2,
      accepted: false,
      message: 'the plan had a cycle: a → b → a\nmore',
    }),
    'planning… try 2: the plan had a cycle: a → b → a',
  );
  assert.equal(
    plannerLine({ type: 'planner', attempt: 3, accepted: true, message: '' }),
    'planning… try 3: accepted',
  );
});

test('watch: each change is one line; the table follows the events', () => {
  const state = newPlanWatchState(diamond({ status: 'running' }));
  const lines = [
    event({ type: 'plan_status', from: 'draft', to: 'running', reason: null }),
    event({
      type: 'ticket_state',
      key: 'schema',
      ticket: 'tkt_schema',
      from: 'waiting',
      to: 'dispatched',
      reason: null,
    }),
    ticketEvent('schema', { type: 'status', from: 'draft', to: 'running', reason: null }),
    ticketEvent('schema', {
      type: 'tool_call',
      step: 1,
      toolCallId: 'c1',
      tool: 'read_file',
      input: {},
    }),
    ticketEvent('schema', { type: 'text', step: 1, text: 'thinking' }),
    ticketEvent('schema', {
      type: 'command',
      step: 1,
      toolCallId: 'c2',
      source: 'agent',
      command: 'npm test',
      exitCode: 1,
      durationMs: 40,
      timedOut: false,
      output: 'fail',
      outputBytes: 4,
    }),
    ticketEvent('schema', {
      type: 'usage',
      step: 1,
      model: 'openai:x',
      inputTokens: 10,
      outputTokens: 5,
      costUsd: 0.02,
      total: { inputTokens: 10, outputTokens: 5, costUsd: 0.02, steps: 1 },
    }),
    event({ type: 'merge', key: 'docs', commits: ['a', 'b'], result: 'conflict', files: ['x.js'] }),
    event({ type: 'usage', total: { inputTokens: 10, outputTokens: 5, costUsd: 0.52, steps: 1 } }),
  ].flatMap((each) => applyPlanEvent(state, each));
  assert.deepEqual(lines, [
    'plan running',
    'schema: dispatched as tkt_schema',
    'schema: ticket running',
    'schema: $ npm test (exit 1)',
    'docs: conflict in x.js',
  ]);
  const board = renderPlanBoard(state, {
    columns: 200,
    now: Date.parse('2026-11-29T10:01:05.000Z'),
  });
  assert.equal(board[0], 'pln_test1  ● running  0/4 approved  $0.5200  1m 05s');
  assert.match(board[1] ?? '', /^ {2}schema +● running +\$0\.0200 +\$ npm test \(exit 1\)$/);
  assert.match(board[4] ?? '', /^ {6}docs +· pending +- *$/);
  // Cut to the terminal's width, so no line wraps and the redraw's count holds.
  const narrow = renderPlanBoard(state, { columns: 30, now: Date.now() });
  assert.ok(narrow.every((line) => [...line].length <= 29));
  assert.ok(narrow.some((line) => line.endsWith('…')));
});

test('a waiting ticket says what it waits for', () => {
  const plan = diamond({ status: 'running' });
  (plan.tickets[0] as PlanTicket).state = 'waiting';
  const board = renderPlanBoard(newPlanWatchState(plan), { columns: 200, now: Date.now() });
  assert.match(
    board.find((line) => line.includes('docs')) ?? '',
    /○ waiting +- +waits for api, ui$/,
  );
});

test('the live board redraws in place: back to its first line, cleared, the new lines', () => {
  const written: string[] = [];
  const stream = Object.assign(new EventEmitter(), {
    write: (text: string) => written.push(text),
    columns: 50,
  });
  const board = new LiveBoard(stream as unknown as NodeJS.WriteStream);
  assert.equal(board.columns, 50);
  board.draw(['a', 'b', 'c']);
  board.draw(['a', 'b', 'c']); // unchanged: nothing written
  board.draw(['a', 'B']);
  board.draw(['x']);
  board.end();
  assert.deepEqual(written, [
    '\x1b[?25l',
    'a\nb\nc',
    '\x1b[2F\x1b[Ja\nB',
    '\x1b[1F\x1b[Jx',
    '\n',
    '\x1b[?25h',
  ]);
});

test('quick edits: a criterion added, a ticket removed; removing one others depend on is refused', () => {
  const spec = planSpecOf(diamond());
  const more = addCriterion(spec, 'api', { text: 'GET /users answers 200', check: 'npm test' });
  assert.deepEqual(more.tickets.find((each) => each.key === 'api')?.criteria.at(-1), {
    text: 'GET /users answers 200',
    check: 'npm test',
  });
  assert.throws(() => addCriterion(spec, 'nope', { text: 'x' }), /the plan has no ticket nope/);
  assert.throws(() => removeTicket(spec, 'api'), /api cannot be removed: docs depend on it/);
  const fewer = removeTicket(removeTicket(spec, 'docs'), 'api');
  assert.deepEqual(
    fewer.tickets.map((each) => each.key),
    ['schema', 'ui'],
  );
  // The spec carries only what a person edits: no states, ids or usage.
  assert.deepEqual(Object.keys(spec.tickets[0] ?? {}).sort(), [
    'criteria',
    'dependsOn',
    'key',
    'request',
    'title',
  ]);
});

test('plan evidence: merge order, each ticket’s criteria, the tests on the merge, the diff stat', () => {
  const evidence: PlanEvidence = {
    plan: 'pln_test1',
    baseCommit: 'b'.repeat(40),
    commit: 'c'.repeat(40),
    tree: null,
    mergeOrder: ['schema', 'api'],
    diff: 'diff --git a/x b/x\n',
    diffStat: { files: [{ path: 'x.js', added: 3, removed: 1, binary: false }] },
    tests: {
      command: 'npm test',
      exitCode: 0,
      timedOut: false,
      durationMs: 1200,
      counts: { passed: 4, failed: 0, skipped: 0, format: 'node' },
      log: '',
    },
    tickets: [
      {
        key: 'schema',
        ticket: 'tkt_1',
        title: 'Schema',
        commit: 'd'.repeat(40),
        criteria: [
          {
            criterion: 0,
            text: 'migrates',
            check: 'npm run migrate',
            status: 'met',
            exitCode: 0,
            timedOut: false,
            output: '',
            durationMs: 5,
            claim: null,
          },
        ],
        usage: usage(0.01),
      },
      {
        key: 'api',
        ticket: 'tkt_2',
        title: 'API',
        commit: 'e'.repeat(40),
        criteria: [
          {
            criterion: 0,
            text: 'reads well',
            check: null,
            status: 'needs_person',
            exitCode: null,
            timedOut: false,
            output: '',
            durationMs: 0,
            claim: null,
          },
        ],
        usage: usage(0.02),
      },
    ],
    usage: usage(0.03),
    startedAt: '2026-11-29T10:00:00.000Z',
    finishedAt: '2026-11-29T10:00:02.000Z',
    durationMs: 2000,
  };
  const text = renderPlanEvidence(evidence);
  assert.match(
    text,
    /^Plan pln_test1: 2 tickets merged at cccccccccccc; tests pass \(4 passed, 0 failed\); 1 criteria not verified met$/m,
  );
  assert.match(text, /^Merge order: schema → api$/m);
  assert.match(text, /^ {4}✔ 1\. migrates — met \(check: npm run migrate\)$/m);
  assert.match(text, /^ {4}\? 1\. reads well — needs a person$/m);
  assert.match(text, /^ {2}x\.js {2}\+3 -1$/m);
  assert.doesNotMatch(text, /diff --git/);
  assert.match(renderPlanEvidence(evidence, { diff: true }), /diff --git a\/x b\/x/);
});

test('show: the model its tickets run with, not "(default)": their own, the project’s, the server’s', () => {
  const plan = diamond();
  (plan.tickets[0] as PlanTicket).model = 'openai:gpt-5';
  assert.match(
    renderPlan(plan, { projectModel: 'ollama:qwen3' }),
    /^model: +openai:gpt-5, ollama:qwen3$/m,
  );
  assert.match(
    renderPlan(diamond({ model: 'anthropic:claude-sonnet-4-5' }), { projectModel: null }),
    /^model: +the server's default \(MAGS_DEFAULT_MODEL\) \(planner: anthropic:claude-sonnet-4-5\)$/m,
  );
  assert.doesNotMatch(renderPlan(diamond()), /\(default\)/);
});
