/**
 * The TicketManager on the real namespace runtime, with scripted agents (agent-v1 implementations
 * that act in the ticket's sandbox through `session`, no model) and a fixture project forked per
 * ticket: the lifecycle, events in order, evidence, parallel tickets isolated from each other and
 * from the project, stop, comments, request-changes with history, and bad input that leaves
 * nothing behind.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AgentSession, AgentTask } from '../src/agents/agent.ts';
import type { Evidence, TicketEvent } from '../src/api/tickets.ts';
import { createMagsContext, type MagsContext } from '../src/context/mags-context.ts';
import {
  ConflictError,
  InvalidInputError,
  type MagsError,
  NotFoundError,
} from '../src/errors/mags-error.ts';
import { ProjectLocks } from '../src/projects/project-lock.ts';
import { SandboxManager } from '../src/sandboxes/sandbox-manager.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../src/state/state-repository.ts';
import {
  type AssembleEvidenceInput,
  assembleEvidence,
} from '../src/tickets/evidence/assemble-evidence.ts';
import { TicketManager } from '../src/tickets/ticket-manager.ts';
import type { TicketProjects } from '../src/tickets/ticket-parts.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';
import {
  agentCommand,
  fixtureParts,
  fixtureProject,
  gitEvidence,
  inWorkspace,
  must,
  scriptedAgent,
} from './helpers/ticket-fixtures.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping ticket manager tests: ${skip}\n`);

/** What each test's agent does, chosen by the ticket's title. */
const scripts: Record<string, (task: AgentTask, session: AgentSession) => Promise<unknown>> = {};

const agent = scriptedAgent(async (task, session) => {
  const script = scripts[task.ticket.title];
  if (!script) throw new Error(`no script for ${task.ticket.title}`);
  return (await script(task, session)) as { reason: 'finished' };
});

/** Per ticket id: its evidence, when not the fixture's git evidence (a hook, or the real one). */
const evidenceFor: Record<string, (input: AssembleEvidenceInput) => Promise<Evidence>> = {};

const waitUntil = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('gave up waiting');
};

describe('tickets on the namespace runtime', { skip }, () => {
  let testHome: TestHome;
  let context: MagsContext;
  let repository: StateRepository;
  let sandboxes: SandboxManager;
  let tickets: TicketManager;
  let projectWorkspace: string;
  let projects: TicketProjects;

  before(async () => {
    testHome = await createTestHome();
    context = createMagsContext({ ...process.env, MAGS_HOME: testHome.home, MAGS_DISK: '64M' });
    repository = createSqliteStateRepository(join(testHome.home, 'state.db'));
    sandboxes = new SandboxManager({ context, repository, sleepAfterMs: 0 });
    const fixture = await fixtureProject(context, sandboxes, 'alice', 'app');
    projectWorkspace = fixture.project.workspace;
    projects = fixture.projects;
    tickets = new TicketManager({
      repository,
      sandboxes,
      projects: fixture.projects,
      parts: {
        ...fixtureParts(agent),
        assembleEvidence: (input) => (evidenceFor[input.ticket.id] ?? gitEvidence)(input),
      },
      workspaces: context.workspaceManager,
      settings: { defaultModel: 'scripted:oracle', maxRunning: 4, maxRunningPerOwner: 4 },
      environment: { MAGS_TICKET_AUTHOR: 'Ticket Bot <bot@example.com>' },
      log: () => {},
    });
  });
  after(async () => {
    await tickets?.shutdown();
    await sandboxes?.shutdown();
    await repository?.close();
    await testHome?.cleanup();
  });

  const create = (title: string, extra: Record<string, unknown> = {}) =>
    tickets.create('alice', {
      project: 'app',
      title,
      request: 'Make the greeting friendlier.',
      criteria: [
        { text: 'the fix is there', check: 'test -f /workspace/fixed.txt' },
        { text: 'says goodbye', check: 'grep -q goodbye /workspace/greeting.txt' },
        { text: 'reads well' },
      ],
      ...extra,
    });

  const collect = async (id: string, options: { after?: number; follow?: boolean } = {}) => {
    const events: TicketEvent[] = [];
    for await (const event of tickets.events('alice', id, options)) events.push(event);
    return events;
  };

  test('create → run → events in order → evidence stored → awaiting_review', async () => {
    scripts.lifecycle = async (_task, session) => {
      await session.emit({ type: 'text', step: 1, text: 'Fixing it.' });
      await agentCommand(session, 'echo done > /workspace/fixed.txt');
      await session.emit({
        type: 'finish',
        summary: 'fixed',
        claims: [
          { criterion: 0, met: true },
          { criterion: 1, met: true },
        ],
      });
      return { reason: 'finished', summary: 'fixed', claims: [{ criterion: 1, met: true }] };
    };
    const draft = await create('lifecycle');
    assert.equal(draft.status, 'draft');
    assert.equal(draft.attempt, 0);
    assert.match(draft.id, /^tkt_/);
    const queued = await tickets.run('alice', draft.id);
    assert.equal(queued.status, 'queued');
    assert.equal(queued.attempt, 1);
    // Followed live from the start: the stream ends when the ticket leaves running.
    const events = await collect(draft.id, { follow: true });
    const done = await tickets.wait('alice', draft.id);
    assert.equal(done.status, 'awaiting_review');
    assert.equal(done.reason, '1 of 3 criteria not met (2. says goodbye); 1 for a person to check');
    assert.match(done.workspace ?? '', new RegExp(`^${draft.id}-[0-9a-f-]{36}$`));
    assert.match(done.baseCommit ?? '', /^[0-9a-f]{40}$/);
    assert.deepEqual(done.usage, { inputTokens: 10, outputTokens: 5, costUsd: 0.001, steps: 1 });
    assert.deepEqual(done.history, [{ attempt: 1 }]);

    assert.deepEqual(
      events.map((event) => event.id),
      events.map((_, index) => index + 1),
      'ids increase from 1 without gaps',
    );
    const shown = events.map((event) =>
      event.data.type === 'status' ? `status:${event.data.to}` : event.data.type,
    );
    assert.deepEqual(shown, [
      'status:draft',
      'status:queued',
      'status:running',
      'text',
      'command',
      'finish',
      'check',
      'check',
      'evidence',
      'status:awaiting_review',
    ]);
    assert.ok(events.slice(1).every((event) => event.attempt === 1));
    // Resumable: after an id, only what follows.
    assert.deepEqual(
      (await collect(draft.id, { after: 8 })).map((event) => event.id),
      [9, 10],
    );

    const evidence = await tickets.evidence('alice', draft.id);
    assert.equal(evidence.attempt, 1);
    assert.equal(evidence.agentEnd, 'finished');
    assert.deepEqual(
      evidence.criteria.map((criterion) => criterion.status),
      ['met', 'not_met', 'needs_person'],
    );
    assert.deepEqual(evidence.criteria[1]?.claim, { criterion: 1, met: true });
    assert.deepEqual(
      evidence.diffStat.files.map((file) => file.path),
      ['fixed.txt'],
    );
    // What happened when, from the attempt's own events.
    assert.deepEqual(
      evidence.timeline?.map((entry) => entry.event.replace(/ in [\d.]+ m?s$/, ' in T')),
      [
        'queued',
        'running: attempt 1',
        'agent $ echo done > /workspace/fixed.txt → exit 0 in T',
        'the agent finished: fixed',
        'criterion 1: met (exit 0)',
        'criterion 2: not met (exit 1)',
      ],
    );
    // The ticket's sandbox is named like it (its owner can look in) and, the attempt over,
    // stopped: it holds none of the owner's sandboxes while the ticket waits for review.
    const sandbox = await sandboxes.get('alice', draft.id);
    assert.equal(sandbox.workspace, done.workspace);
    assert.equal(sandbox.status, 'stopped');
    // The agent resolves its model from the manager's environment, not the process's.
    const task = agent.tasks.find((each) => each.ticket.id === draft.id);
    assert.equal(task?.environment?.MAGS_TICKET_AUTHOR, 'Ticket Bot <bot@example.com>');
  });

  test('two tickets of one project in parallel see only their own changes; the project is unchanged', async () => {
    const seen: Record<string, string> = {};
    let arrived = 0;
    scripts.parallel = async (task, session) => {
      await agentCommand(session, `echo ${task.ticket.id} > /workspace/mine.txt`);
      arrived++;
      // Both are running at once before either looks.
      await waitUntil(async () => arrived === 2);
      seen[task.ticket.id] = (await agentCommand(session, 'cat /workspace/mine.txt')).output;
      return { reason: 'finished' };
    };
    const [a, b] = await Promise.all([
      create('parallel', { run: true }),
      create('parallel', { run: true }),
    ]);
    assert.ok(a && b);
    const [doneA, doneB] = await Promise.all([
      tickets.wait('alice', a.id),
      tickets.wait('alice', b.id),
    ]);
    assert.equal(doneA.status, 'awaiting_review');
    assert.equal(doneB.status, 'awaiting_review');
    assert.equal(seen[a.id], `${a.id}\n`);
    assert.equal(seen[b.id], `${b.id}\n`);
    assert.notEqual(doneA.workspace, doneB.workspace);
    for (const ticket of [a, b]) {
      const evidence = await tickets.evidence('alice', ticket.id);
      assert.match(evidence.diff, new RegExp(`^\\+${ticket.id}$`, 'm'));
      assert.deepEqual(
        evidence.diffStat.files.map((file) => file.path),
        ['mine.txt'],
      );
    }
    const project = await inWorkspace(sandboxes, 'alice', projectWorkspace, (sandbox) =>
      must(sandbox, 'cd /workspace && git status --porcelain && ls'),
    );
    assert.equal(project, 'greeting.txt\ntest.sh\n');
  });

  test('stop aborts a running agent; the ticket is stopped with who and why, and evidence is still assembled', async () => {
    scripts.stop = async (_task, session) => {
      await agentCommand(session, 'echo partial > /workspace/fixed.txt');
      await agentCommand(session, 'sleep 60');
      return { reason: session.signal.aborted ? 'stopped' : 'finished', message: 'stopped' };
    };
    const ticket = await create('stop', { run: true });
    await waitUntil(async () =>
      (await collect(ticket.id)).some((event) => event.data.type === 'command'),
    );
    const stopped = await tickets.stop('alice', ticket.id, { by: 'alice', reason: 'wrong way' });
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.reason, 'stopped by alice: wrong way');
    const evidence = await tickets.evidence('alice', ticket.id);
    assert.equal(evidence.agentEnd, 'stopped');
    // The agent knew only that it was stopped: the evidence says who and why, like the ticket.
    assert.equal(evidence.agentMessage, 'stopped by alice: wrong way');
    assert.equal(evidence.criteria[0]?.status, 'met');
    // Stopping again changes nothing; a stopped ticket can run again (attempt 2).
    assert.equal((await tickets.stop('alice', ticket.id, { by: 'alice' })).reason, stopped.reason);
  });

  test('a comment on a running ticket reaches the agent at its next step', async () => {
    scripts.comment = async (_task, session) => {
      await session.emit({ type: 'text', step: 1, text: 'waiting for advice' });
      let comments: string[] = [];
      await waitUntil(async () => {
        comments = session.takeComments();
        return comments.length > 0;
      });
      await agentCommand(session, `echo '${comments.join(',')}' > /workspace/advice.txt`, 2);
      return { reason: 'finished', summary: comments.join(',') };
    };
    const ticket = await create('comment', { run: true });
    await waitUntil(async () =>
      (await collect(ticket.id)).some((event) => event.data.type === 'text'),
    );
    const event = await tickets.comment('alice', ticket.id, {
      author: 'alice',
      text: 'use goodbye',
    });
    assert.deepEqual(event.data, { type: 'comment', author: 'alice', text: 'use goodbye' });
    await tickets.wait('alice', ticket.id);
    const evidence = await tickets.evidence('alice', ticket.id);
    assert.equal(evidence.summary, 'use goodbye');
    assert.match(evidence.diff, /^\+use goodbye$/m);
  });

  test('request-changes continues in the same workspace with the feedback and the history (attempt 2)', async () => {
    scripts.changes = async (task, session) => {
      if (!task.feedback) {
        await agentCommand(session, 'echo first > /workspace/fixed.txt');
        return { reason: 'finished' };
      }
      // The first attempt's file is still there: the same workspace.
      await agentCommand(
        session,
        `cat /workspace/fixed.txt && echo goodbye >> /workspace/greeting.txt`,
      );
      return { reason: 'finished', summary: `feedback: ${task.feedback}` };
    };
    const ticket = await create('changes', { run: true });
    const first = await tickets.wait('alice', ticket.id);
    assert.equal(first.status, 'awaiting_review');
    const again = await tickets.requestChanges('alice', ticket.id, {
      author: 'alice',
      text: 'also say goodbye',
    });
    assert.equal(again.status, 'queued');
    assert.equal(again.attempt, 2);
    const second = await tickets.wait('alice', ticket.id);
    assert.equal(second.status, 'awaiting_review');
    assert.equal(second.reason, '2 of 3 criteria met; 1 for a person to check');
    assert.equal(second.workspace, first.workspace);
    const task = agent.tasks.filter((each) => each.ticket.id === ticket.id)[1];
    assert.equal(task?.feedback, 'also say goodbye');
    assert.deepEqual(task?.history, [{ attempt: 1 }]);
    assert.deepEqual(task?.usageSoFar.steps, 1);
    assert.equal(
      (await tickets.evidence('alice', ticket.id)).summary,
      'feedback: also say goodbye',
    );
    assert.equal((await tickets.evidence('alice', ticket.id, 1)).attempt, 1);
    // Attempt 2's timeline starts with the request that queued it: who asked, and what.
    assert.deepEqual(
      (await tickets.evidence('alice', ticket.id)).timeline
        ?.slice(0, 3)
        .map((entry) => entry.event),
      [
        'changes_requested: changes requested by alice: also say goodbye',
        'queued',
        'running: attempt 2',
      ],
    );
    assert.equal((await tickets.get('alice', ticket.id)).usage.steps, 2);
    const statuses = (await collect(ticket.id))
      .filter((event) => event.data.type === 'status')
      .map((event) => (event.data.type === 'status' ? `${event.attempt}:${event.data.to}` : ''));
    assert.deepEqual(statuses, [
      '0:draft',
      '1:queued',
      '1:running',
      '1:awaiting_review',
      '1:changes_requested',
      '2:queued',
      '2:running',
      '2:awaiting_review',
    ]);

    // Approve: a commit on mags/<id> in its sandbox (started again for it, stopped after), by
    // the server's author (MAGS_TICKET_AUTHOR), the bundle stored, the branch imported.
    assert.equal((await sandboxes.get('alice', ticket.id)).status, 'stopped');
    const approved = await tickets.approve('alice', ticket.id);
    assert.equal(approved.status, 'approved');
    assert.equal(approved.branch, `mags/${ticket.id}`);
    assert.match(approved.commit ?? '', /^[0-9a-f]{40}$/);
    assert.ok((await tickets.bundle('alice', ticket.id)).length > 0);
    assert.equal((await sandboxes.get('alice', ticket.id)).status, 'stopped');
    const author = await inWorkspace(sandboxes, 'alice', first.workspace ?? '', (sandbox) =>
      must(sandbox, `cd /workspace && git log -1 --format='%an <%ae>' mags/${ticket.id}`),
    );
    assert.equal(author, 'Ticket Bot <bot@example.com>\n');
    const closed = await tickets.close('alice', ticket.id, { by: 'alice' });
    assert.equal(closed.status, 'closed');
    await assert.rejects(
      tickets.comment('alice', ticket.id, { author: 'alice', text: 'late' }),
      (error: unknown) => {
        assert.ok(error instanceof ConflictError);
        assert.match(
          error.message,
          /^Cannot comment on ticket tkt_\S+: it is closed \(allowed when it is draft, queued, running, awaiting_review, changes_requested, failed or stopped\)\.$/,
        );
        return true;
      },
    );
    // Past the retention, its sandbox and workspace go; the ticket stays.
    assert.equal(await tickets.sweepClosed(Date.now() + 8 * 24 * 3600 * 1000), 1);
    await assert.rejects(sandboxes.get('alice', ticket.id), NotFoundError);
    const workspaces = (await context.workspaceManager.list('alice')).map((each) => each.name);
    assert.ok(!workspaces.includes(first.workspace ?? ''), workspaces.join(' '));
    assert.equal((await tickets.get('alice', ticket.id)).workspace, null);
  });

  test('bad input is a clear error and leaves nothing behind', async () => {
    const before = (await tickets.list('alice')).length;
    await assert.rejects(create('x', { project: 'nope' }), NotFoundError);
    await assert.rejects(create('x', { role: 'poet' }), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError);
      assert.equal(error.message, 'Unknown role "poet".');
      return true;
    });
    await assert.rejects(create('x', { model: 'acme:big' }), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError);
      assert.equal(error.code, 'unknown_provider');
      return true;
    });
    assert.equal((await tickets.list('alice')).length, before);
    const draft = await create('x');
    await assert.rejects(tickets.get('bob', draft.id), NotFoundError);
    await assert.rejects(tickets.run('bob', draft.id), NotFoundError);
    await assert.rejects(tickets.evidence('alice', draft.id), NotFoundError);
    await assert.rejects(tickets.approve('alice', draft.id), ConflictError);
    assert.deepEqual(await tickets.list('bob'), []);
  });

  test('a restarted server fails what a gone server was running and runs what it had queued', async () => {
    scripts.recovered = async (_task, session) => {
      await agentCommand(session, 'echo recovered > /workspace/fixed.txt');
      return { reason: 'finished' };
    };
    const gone = { host: (await import('node:os')).hostname(), server: 'deadbeef:1:1' };
    const running = await create('recovered');
    const queued = await create('recovered');
    await repository.updateTicket(running.id, { status: 'running', attempt: 1, ...gone });
    await repository.updateTicket(queued.id, { status: 'queued', attempt: 1, ...gone });
    // The gone server's ticket sandbox, found running again by the sandboxes' recovery.
    await sandboxes.create('alice', { name: running.id, workspace: `${running.id}-gone` });
    assert.deepEqual(await tickets.recover(), { queued: 1, failed: 1 });
    const failed = await tickets.get('alice', running.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.reason, 'the server stopped while the agent ran; run it again');
    assert.equal(
      (await repository.getSandbox('alice', running.id))?.status,
      'stopped',
      'the failed ticket’s sandbox is stopped',
    );
    await assert.rejects(tickets.evidence('alice', running.id), NotFoundError);
    const ran = await tickets.wait('alice', queued.id);
    assert.equal(ran.status, 'awaiting_review');
    assert.equal((await tickets.evidence('alice', queued.id)).criteria[0]?.status, 'met');
    // Taken over once: a second look finds nothing of a gone server.
    assert.deepEqual(await tickets.recover(), { queued: 0, failed: 0 });
  });

  test('the conversation is stored after each step, before the attempt ends (what a restart continues from)', async () => {
    let storedMidway: unknown[] | undefined;
    scripts.saving = async (task, session) => {
      await session.saveHistory?.([{ role: 'user', content: 'after step 1' }]);
      storedMidway = (await repository.getTicket('alice', task.ticket.id))?.history;
      return { reason: 'finished' };
    };
    const draft = await create('saving');
    await tickets.run('alice', draft.id);
    await tickets.wait('alice', draft.id);
    assert.deepEqual(storedMidway, [{ role: 'user', content: 'after step 1' }]);
  });

  test('two runs at once queue one attempt; the others are a 409 saying it is queued', async () => {
    scripts.twice = async (_task, session) => {
      await agentCommand(session, 'echo once >> /workspace/fixed.txt');
      return { reason: 'finished' };
    };
    const draft = await create('twice');
    const results = await Promise.allSettled([
      tickets.run('alice', draft.id),
      tickets.run('alice', draft.id),
      tickets.run('alice', draft.id),
    ]);
    const queued = results.filter((result) => result.status === 'fulfilled');
    assert.equal(queued.length, 1);
    assert.equal(queued[0]?.value.attempt, 1);
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      assert.ok(result.reason instanceof ConflictError);
      assert.equal(result.reason.code, 'ticket_status');
      assert.match(
        result.reason.message,
        /: it is (queued|running) \(allowed when it is draft, failed or stopped\)/,
      );
    }
    const done = await tickets.wait('alice', draft.id);
    assert.equal(done.status, 'awaiting_review');
    assert.equal(done.attempt, 1);
    assert.equal(agent.tasks.filter((task) => task.ticket.id === draft.id).length, 1);
    assert.match((await tickets.evidence('alice', draft.id)).diff, /^\+once$/m);
  });

  test('close and request-changes during an approve wait for it: approved, then closed; the request is a 409', async () => {
    scripts.race = async (_task, session) => {
      await agentCommand(session, 'echo done > /workspace/fixed.txt');
      return { reason: 'finished' };
    };
    const ticket = await create('race', { run: true });
    assert.equal((await tickets.wait('alice', ticket.id)).status, 'awaiting_review');
    const [approved, closed, changed] = await Promise.allSettled([
      tickets.approve('alice', ticket.id),
      tickets.close('alice', ticket.id, { by: 'alice' }),
      tickets.requestChanges('alice', ticket.id, { author: 'alice', text: 'more' }),
    ]);
    assert.equal(approved.status === 'fulfilled' && approved.value.status, 'approved');
    assert.equal(closed.status === 'fulfilled' && closed.value.status, 'closed');
    assert.ok(changed.status === 'rejected' && changed.reason instanceof ConflictError);
    assert.match(changed.reason.message, /it is closed/);
    const final = await tickets.get('alice', ticket.id);
    assert.equal(final.status, 'closed');
    assert.equal(final.branch, `mags/${ticket.id}`);
    const statuses = (await collect(ticket.id)).flatMap((event) =>
      event.data.type === 'status' ? [event.data.to] : [],
    );
    assert.deepEqual(statuses.slice(-3), ['awaiting_review', 'approved', 'closed']);
    assert.equal(agent.tasks.filter((task) => task.ticket.id === ticket.id).length, 1);
  });

  test('run and request-changes raise the budget: merged into the ticket’s, given to the agent', async () => {
    const budgets: unknown[] = [];
    scripts.budgeted = async (task) => {
      budgets.push(task.budget);
      return { reason: 'budget_cost', message: 'stopped at $0.10 (budget)' };
    };
    const draft = await create('budgeted', { budget: { maxSteps: 5, maxCostUsd: 0.1 } });
    const queued = await tickets.run('alice', draft.id, { budget: { maxCostUsd: 2 } });
    assert.deepEqual(queued.budget, { maxSteps: 5, maxCostUsd: 2 });
    await tickets.wait('alice', draft.id);
    await tickets.requestChanges('alice', draft.id, {
      author: 'alice',
      text: 'go on',
      budget: { maxTokens: 50_000 },
    });
    await tickets.wait('alice', draft.id);
    const final = await tickets.get('alice', draft.id);
    assert.deepEqual(final.budget, { maxSteps: 5, maxCostUsd: 2, maxTokens: 50_000 });
    assert.deepEqual(
      budgets.map((budget) => {
        const { maxSteps, maxCostUsd, maxTokens } = budget as Record<string, number>;
        return [maxSteps, maxCostUsd, maxTokens];
      }),
      [
        [5, 2, tickets.settings.budget.maxTokens],
        [5, 2, 50_000],
      ],
    );
  });

  test('closing a running ticket stops it without assembling its evidence', async () => {
    scripts['closed while running'] = async (_task, session) => {
      await session.emit({ type: 'text', step: 1, text: 'working' });
      await new Promise((resolve) => session.signal.addEventListener('abort', resolve));
      return { reason: 'stopped' };
    };
    const ticket = await create('closed while running', { run: true });
    let assembled = false;
    evidenceFor[ticket.id] = async (input) => {
      assembled = true;
      return gitEvidence(input);
    };
    await waitUntil(async () =>
      (await collect(ticket.id)).some((event) => event.data.type === 'text'),
    );
    const closed = await tickets.close('alice', ticket.id, { by: 'alice' });
    assert.equal(closed.status, 'closed');
    assert.equal(assembled, false, 'no evidence for a ticket nobody will review');
    await assert.rejects(tickets.evidence('alice', ticket.id), NotFoundError);
    const statuses = (await collect(ticket.id)).flatMap((event) =>
      event.data.type === 'status' ? [event.data.to] : [],
    );
    assert.deepEqual(statuses.slice(-2), ['stopped', 'closed']);
  });

  test('a stop while the evidence is assembled ends it at once (a check that would sleep 10 minutes)', {
    timeout: 120_000,
  }, async () => {
    scripts['slow check'] = async (_task, session) => {
      await agentCommand(session, 'echo done > /workspace/fixed.txt');
      return { reason: 'finished' };
    };
    const draft = await create('slow check', {
      criteria: [{ text: 'takes its time', check: 'sleep 600' }],
    });
    evidenceFor[draft.id] = assembleEvidence; // the platform's own, with its stop signal
    await tickets.run('alice', draft.id);
    // The project's test runs before the checks: once it is reported, the evidence phase is on.
    await waitUntil(async () =>
      (await collect(draft.id)).some(
        (event) => event.data.type === 'command' && event.data.source === 'test',
      ),
    );
    const stopped = await tickets.stop('alice', draft.id, { by: 'alice', reason: 'too slow' });
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.reason, 'stopped by alice: too slow');
    const evidence = await tickets.evidence('alice', draft.id);
    assert.notEqual(evidence.criteria[0]?.status, 'met');
    assert.deepEqual(
      evidence.diffStat.files.map((file) => file.path),
      ['fixed.txt'],
    );
  });

  test('a shutdown while the evidence is assembled ends it at once; the ticket fails with the reason', {
    timeout: 120_000,
  }, async () => {
    scripts['slow shutdown'] = async (_task, session) => {
      await agentCommand(session, 'echo done > /workspace/fixed.txt');
      return { reason: 'finished' };
    };
    // A server of its own, to shut down (the shared one keeps going).
    const server = new TicketManager({
      repository,
      sandboxes,
      projects,
      parts: { ...fixtureParts(agent), assembleEvidence },
      settings: { defaultModel: 'scripted:oracle' },
      environment: {},
      log: () => {},
    });
    const ticket = await server.create('alice', {
      project: 'app',
      title: 'slow shutdown',
      request: 'Take your time.',
      criteria: [{ text: 'takes its time', check: 'sleep 600' }],
      run: true,
    });
    await waitUntil(async () =>
      (await collect(ticket.id)).some(
        (event) => event.data.type === 'command' && event.data.source === 'test',
      ),
    );
    await server.shutdown();
    const failed = await tickets.get('alice', ticket.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.reason, 'the server stopped while the agent ran; run it again');
    // A server that detaches leaves sandboxes running; a failed ticket's must not be one.
    assert.equal((await repository.getSandbox('alice', ticket.id))?.status, 'stopped');
  });

  /** A server of its own whose approvals wait in the sandbox until `release` (to shut down). */
  const holdingApprovals = (options: { projects?: TicketProjects } = {}) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const approving: string[] = [];
    const base = fixtureParts(agent);
    const server = new TicketManager({
      repository,
      sandboxes,
      projects: options.projects ?? projects,
      parts: {
        ...base,
        commitApproved: async (sandbox, approval) => {
          approving.push(approval.branch);
          await released;
          return base.commitApproved(sandbox, approval);
        },
      },
      settings: { defaultModel: 'scripted:oracle' },
      environment: {},
      log: () => {},
    });
    const reviewed = async (title: string) => {
      const ticket = await server.create('alice', {
        project: 'app',
        title,
        request: 'Say goodbye.',
        criteria: [{ text: 'says goodbye', check: 'grep -q goodbye /workspace/greeting.txt' }],
        run: true,
      });
      assert.equal((await server.wait('alice', ticket.id)).status, 'awaiting_review');
      return ticket;
    };
    return { server, release, approving, reviewed };
  };
  scripts.goodbye = async (_task, session) => {
    await agentCommand(session, 'echo goodbye >> /workspace/greeting.txt');
    return { reason: 'finished' };
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

  test('a shutdown refuses new runs (503) and waits for an approval in progress', async () => {
    const { server, release, approving, reviewed } = holdingApprovals();
    const ticket = await reviewed('goodbye');
    const draft = await server.create('alice', {
      project: 'app',
      title: 'goodbye',
      request: 'Say goodbye.',
      criteria: [],
    });
    const order: string[] = [];
    const approval = server.approve('alice', ticket.id).then((approved) => {
      order.push('approved');
      return approved;
    });
    await waitUntil(async () => approving.length > 0);
    const shutdown = server.shutdown().then(() => order.push('shut down'));
    await assert.rejects(server.run('alice', draft.id), (error: MagsError) => {
      assert.equal(error.code, 'server_shutting_down');
      assert.equal(error.statusCode, 503);
      return true;
    });
    assert.equal((await tickets.get('alice', draft.id)).status, 'draft');
    await settle(); // a shutdown that does not wait for the approval is over by now
    release();
    assert.equal((await approval).status, 'approved');
    await shutdown;
    assert.deepEqual(order, ['approved', 'shut down']);
  });

  test('a project deletion waits for an approval in progress, and its tickets’ actions are a 409 meanwhile', async () => {
    const { server, release, approving, reviewed } = holdingApprovals();
    const ticket = await reviewed('goodbye');
    const other = await reviewed('goodbye');
    const order: string[] = [];
    const approval = server.approve('alice', ticket.id).then(() => order.push('approved'));
    await waitUntil(async () => approving.length > 0);
    const deletion = server.whileDeletingProject('alice', 'app', async () => {
      order.push('deleted');
    });
    await assert.rejects(
      server.requestChanges('alice', other.id, { author: 'alice', text: 'more' }),
      (error: MagsError) => error.code === 'project_deleting',
    );
    await assert.rejects(
      server.create('alice', { project: 'app', title: 'goodbye', request: 'x', criteria: [] }),
      (error: MagsError) => error.code === 'project_deleting',
    );
    await settle();
    release();
    await Promise.all([approval, deletion]);
    assert.deepEqual(order, ['approved', 'deleted']);
    await server.shutdown();
  });

  test('an attempt waiting for the project (a refresh holds it) does not hold up a shutdown', {
    timeout: 60_000,
  }, async () => {
    // The ProjectManager's lock, held by a refresh that takes its time.
    const locks = new ProjectLocks();
    let refreshed!: () => void;
    const refresh = locks.run(
      'alice',
      'app',
      () =>
        new Promise<void>((resolve) => {
          refreshed = resolve;
        }),
    );
    const waiting: TicketProjects = {
      ...projects,
      forkForTicket: (owner, name, target, options) =>
        locks.run(owner, name, () => projects.forkForTicket(owner, name, target), options?.signal),
    };
    const { server } = holdingApprovals({ projects: waiting });
    const ticket = await server.create('alice', {
      project: 'app',
      title: 'goodbye',
      request: 'Say goodbye.',
      criteria: [],
      run: true,
    });
    await waitUntil(async () => (await tickets.get('alice', ticket.id)).status === 'running');
    await server.shutdown();
    const failed = await tickets.get('alice', ticket.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.reason, 'the server stopped while the agent ran; run it again');
    assert.equal(failed.workspace, null, 'nothing was forked');
    refreshed();
    await refresh;
  });

  test('comments reach the next attempt: on a draft, after the last model step, during the evidence, in review', async () => {
    const seen: Array<{ comments: string[]; feedback?: string }> = [];
    let commentedLate = false;
    scripts.durable = async (task, session) => {
      seen.push({ comments: session.takeComments(), feedback: task.feedback });
      const total = { inputTokens: 1, outputTokens: 1, costUsd: 0, steps: seen.length };
      await session.emit({
        type: 'usage',
        step: 1,
        model: task.model,
        inputTokens: 1,
        outputTokens: 1,
        costUsd: 0,
        total,
      });
      // The last model step is over; a comment now comes too late for this attempt.
      if (seen.length === 1) await waitUntil(async () => commentedLate);
      return { reason: 'finished' };
    };
    const draft = await create('durable');
    evidenceFor[draft.id] = async (input) => {
      if (input.ticket.attempt === 1) {
        await tickets.comment('alice', draft.id, { author: 'alice', text: 'during the evidence' });
      }
      return gitEvidence(input);
    };
    await tickets.comment('alice', draft.id, { author: 'alice', text: 'on the draft' });
    await tickets.run('alice', draft.id);
    await waitUntil(async () =>
      (await collect(draft.id)).some((event) => event.data.type === 'usage'),
    );
    await tickets.comment('alice', draft.id, { author: 'alice', text: 'after the last step' });
    commentedLate = true;
    assert.equal((await tickets.wait('alice', draft.id)).status, 'awaiting_review');
    await tickets.comment('alice', draft.id, { author: 'bob', text: 'in review' });
    await tickets.requestChanges('alice', draft.id, { author: 'alice', text: 'try again' });
    assert.equal((await tickets.wait('alice', draft.id)).status, 'awaiting_review');
    assert.deepEqual(seen, [
      { comments: ['on the draft'], feedback: undefined },
      {
        comments: ['after the last step', 'during the evidence', 'in review'],
        feedback: 'try again',
      },
    ]);
  });

  test('a comment is neither lost nor given twice: posted during a last step, taken by a failed step, taken before a crash', async () => {
    const seen: Array<{ comments: string[]; feedback?: string }> = [];
    let commented = false;
    scripts.delivery = async (task, session) => {
      const attempt = seen.length + 1;
      const usage = async () =>
        session.emit({
          type: 'usage',
          step: attempt,
          model: task.model,
          inputTokens: 1,
          outputTokens: 1,
          costUsd: 0,
          total: { inputTokens: 1, outputTokens: 1, costUsd: 0, steps: attempt },
        });
      if (attempt === 1) {
        // A comment comes while the last step runs; the agent finishes without taking it.
        seen.push({ comments: [], feedback: task.feedback });
        await session.emit({ type: 'text', step: 1, text: 'working' });
        await waitUntil(async () => commented);
        await usage();
        return { reason: 'finished' };
      }
      seen.push({ comments: session.takeComments(), feedback: task.feedback });
      // Attempt 2's step fails after taking them (its history holds them, as a stop's would);
      // attempt 3 crashes (throws) before it saved a history with them.
      if (attempt === 2) return { reason: 'provider_error', message: 'the provider failed' };
      if (attempt === 3) throw new Error('the agent crashed');
      await usage();
      return { reason: 'finished' };
    };
    const ticket = await create('delivery', { run: true });
    await waitUntil(async () =>
      (await collect(ticket.id)).some((event) => event.data.type === 'text'),
    );
    await tickets.comment('alice', ticket.id, { author: 'alice', text: 'during the last step' });
    commented = true;
    assert.equal((await tickets.wait('alice', ticket.id)).status, 'awaiting_review');
    await tickets.requestChanges('alice', ticket.id, { author: 'alice', text: 'again' });
    assert.equal((await tickets.wait('alice', ticket.id)).status, 'failed');
    await tickets.comment('alice', ticket.id, { author: 'alice', text: 'after the failure' });
    await tickets.run('alice', ticket.id);
    assert.equal((await tickets.wait('alice', ticket.id)).status, 'failed');
    await tickets.run('alice', ticket.id);
    assert.equal((await tickets.wait('alice', ticket.id)).status, 'awaiting_review');
    assert.deepEqual(seen, [
      { comments: [], feedback: undefined },
      { comments: ['during the last step'], feedback: 'again' },
      { comments: ['after the failure'], feedback: undefined },
      { comments: ['after the failure'], feedback: undefined },
    ]);
  });

  test('model text is stored merged per step, in order with the other events', async () => {
    scripts.chatty = async (_task, session) => {
      // Not awaited, as an agent may: the deltas still keep their order.
      for (let index = 0; index < 100; index++) {
        void session.emit({ type: 'text', step: 1, text: `${index} ` });
      }
      await agentCommand(session, 'true');
      for (let index = 0; index < 50; index++)
        void session.emit({ type: 'text', step: 2, text: 'b' });
      void session.emit({ type: 'text', step: 3, text: 'c' });
      return { reason: 'finished' };
    };
    const ticket = await create('chatty', { run: true });
    await tickets.wait('alice', ticket.id);
    const shown = (await collect(ticket.id))
      .filter((event) => event.attempt === 1 && ['text', 'command'].includes(event.data.type))
      .map((event) =>
        event.data.type === 'text' ? `${event.data.step}:${event.data.text}` : event.data.type,
      );
    const first = Array.from({ length: 100 }, (_, index) => `${index} `).join('');
    assert.deepEqual(shown, [`1:${first}`, 'command', `2:${'b'.repeat(50)}`, '3:c']);
  });

  test('a ticket an older server left in changes_requested is queued, with its feedback from the log', async () => {
    scripts.promised = async (task, session) => {
      await agentCommand(session, `echo '${task.feedback ?? 'none'}' > /workspace/fixed.txt`);
      return { reason: 'finished' };
    };
    const ticket = await create('promised', { run: true });
    assert.equal((await tickets.wait('alice', ticket.id)).status, 'awaiting_review');
    // Requested in two steps by a server that died between them.
    const at = new Date().toISOString();
    await repository.appendTicketEvent(ticket.id, {
      attempt: 1,
      at,
      data: { type: 'comment', author: 'alice', text: 'be brief' },
    });
    await repository.appendTicketEvent(ticket.id, {
      attempt: 1,
      at,
      data: {
        type: 'status',
        from: 'awaiting_review',
        to: 'changes_requested',
        reason: 'changes requested by alice: be brief',
      },
    });
    const gone = { host: (await import('node:os')).hostname(), server: 'deadbeef:2:2' };
    await repository.updateTicket(ticket.id, { status: 'changes_requested', ...gone });
    assert.deepEqual(await tickets.recover(), { queued: 1, failed: 0 });
    const done = await tickets.wait('alice', ticket.id);
    assert.equal(done.status, 'awaiting_review');
    assert.equal(done.attempt, 2);
    const task = agent.tasks.filter((each) => each.ticket.id === ticket.id)[1];
    assert.equal(task?.feedback, 'be brief');
  });
});
