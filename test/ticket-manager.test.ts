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
import type { TicketEvent } from '../src/api/tickets.ts';
import { createMagsContext, type MagsContext } from '../src/context/mags-context.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../src/errors/mags-error.ts';
import { SandboxManager } from '../src/sandboxes/sandbox-manager.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../src/state/state-repository.ts';
import { TicketManager } from '../src/tickets/ticket-manager.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';
import {
  agentCommand,
  fixtureParts,
  fixtureProject,
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

  before(async () => {
    testHome = await createTestHome();
    context = createMagsContext({ ...process.env, MAGS_HOME: testHome.home, MAGS_DISK: '64M' });
    repository = createSqliteStateRepository(join(testHome.home, 'state.db'));
    sandboxes = new SandboxManager({ context, repository, sleepAfterMs: 0 });
    const fixture = await fixtureProject(context, sandboxes, 'alice', 'app');
    projectWorkspace = fixture.project.workspace;
    tickets = new TicketManager({
      repository,
      sandboxes,
      projects: fixture.projects,
      parts: fixtureParts(agent),
      workspaces: context.workspaceManager,
      settings: { defaultModel: 'scripted:oracle', maxRunning: 4, maxRunningPerOwner: 4 },
      environment: {},
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
    // The owner can look into the ticket's sandbox: it is named like the ticket.
    const sandbox = await sandboxes.get('alice', draft.id);
    assert.equal(sandbox.workspace, done.workspace);
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

    // Approve: a commit on mags/<id> in its sandbox, the bundle stored, the branch imported.
    const approved = await tickets.approve('alice', ticket.id);
    assert.equal(approved.status, 'approved');
    assert.equal(approved.branch, `mags/${ticket.id}`);
    assert.match(approved.commit ?? '', /^[0-9a-f]{40}$/);
    assert.ok((await tickets.bundle('alice', ticket.id)).length > 0);
    const closed = await tickets.close('alice', ticket.id, { by: 'alice' });
    assert.equal(closed.status, 'closed');
    await assert.rejects(
      tickets.comment('alice', ticket.id, { author: 'alice', text: 'late' }),
      (error: unknown) => {
        assert.ok(error instanceof ConflictError);
        assert.match(error.message, /^Cannot comment on ticket tkt_\S+: it is closed/);
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
    assert.deepEqual(await tickets.recover(), { queued: 1, failed: 1 });
    const failed = await tickets.get('alice', running.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.reason, 'the server stopped while the agent ran; run it again');
    await assert.rejects(tickets.evidence('alice', running.id), NotFoundError);
    const ran = await tickets.wait('alice', queued.id);
    assert.equal(ran.status, 'awaiting_review');
    assert.equal((await tickets.evidence('alice', queued.id)).criteria[0]?.status, 'met');
    // Taken over once: a second look finds nothing of a gone server.
    assert.deepEqual(await tickets.recover(), { queued: 0, failed: 0 });
  });
});
