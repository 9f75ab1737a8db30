/**
 * Tickets end to end with the real parts: a real server on the namespace runtime, a project
 * imported from a fixture repository, the built-in agent driven by scripted models
 * (MockLanguageModelV4), the platform's evidence and review, and `mags ticket apply` in a fresh
 * clone. An oracle fixes the bug and is approved; a liar only claims, and is sent back; a model
 * that never finishes meets the step budget; a person's comment reaches the model mid-run.
 * Provider errors and the sandbox's walls: tickets-end-to-end-limits.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  call,
  type EndToEndServer,
  eventTypes,
  finish,
  fixedSum,
  followTicket,
  git,
  inProjectWorkspace,
  scriptedPrice,
  startEndToEndServer,
  statusChanges,
} from './helpers/end-to-end-tickets.ts';
import { runCli, sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping end-to-end ticket tests: ${skip}\n`);

const fix = call('edit_file', { path: 'sum.js', oldText: 'a - b', newText: 'a + b' });
const runTests = call('run_command', { command: 'node --test' });

describe('tickets end to end (real parts, scripted models)', { skip }, () => {
  let e2e: EndToEndServer;
  before(async () => {
    e2e = await startEndToEndServer();
  });
  after(() => e2e?.close());

  test('an oracle: criteria met, tests green, the diff exactly the fix; approved, applied in a fresh clone', async () => {
    const oracle = e2e.model([
      { text: 'sum subtracts; fixing it.', ...fix },
      runTests,
      finish('sum adds now', true, 'node --test passes'),
    ]);
    const created = await e2e.alice.tickets.create(e2e.body(oracle.id));
    const events = await followTicket(e2e.alice, created.id);
    const ticket = await e2e.alice.tickets.get(created.id);
    assert.equal(ticket.status, 'awaiting_review', ticket.reason ?? '');
    assert.equal(ticket.reason, 'all 1 criteria met; tests passed');
    assert.deepEqual(statusChanges(events), [
      '→draft',
      'draft→queued',
      'queued→running',
      'running→awaiting_review',
    ]);
    assert.deepEqual(eventTypes(events), [
      ...['status', 'status', 'status'],
      ...['tool_call', 'file_change', 'tool_result', 'usage'],
      ...['tool_call', 'command', 'tool_result', 'usage'],
      ...['tool_call', 'finish', 'tool_result', 'usage'],
      ...['command', 'command', 'check', 'evidence', 'status'],
    ]);
    const text = events.flatMap((event) => (event.data.type === 'text' ? [event.data.text] : []));
    assert.equal(text.join(''), 'sum subtracts; fixing it.');
    const commands = events.flatMap((event) =>
      event.data.type === 'command' ? [`${event.data.source} ${event.data.exitCode}`] : [],
    );
    assert.deepEqual(commands, ['agent 0', 'test 0', 'check 0']);
    const ids = events.map((event) => event.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'events in id order',
    );

    // Usage: three steps of 100 in / 20 out, at the server's price for the model.
    const cost =
      (300 * scriptedPrice.inputPerMillionUsd + 60 * scriptedPrice.outputPerMillionUsd) / 1e6;
    assert.deepEqual(
      { ...ticket.usage, costUsd: Number(ticket.usage.costUsd.toFixed(9)) },
      { inputTokens: 300, outputTokens: 60, costUsd: cost, steps: 3 },
    );
    const lastUsage = events.findLast((event) => event.data.type === 'usage')?.data;
    assert.equal(lastUsage?.type === 'usage' && lastUsage.total.steps, 3);

    const evidence = await e2e.alice.tickets.evidence(created.id);
    assert.equal(evidence.agentEnd, 'finished');
    assert.equal(evidence.summary, 'sum adds now');
    assert.equal(evidence.diff, e2e.fixDiff);
    assert.deepEqual(evidence.diffStat.files, [
      { path: 'sum.js', added: 1, removed: 1, binary: false },
    ]);
    assert.equal(evidence.tests?.exitCode, 0, evidence.tests?.log);
    assert.deepEqual(evidence.tests?.counts, { passed: 2, failed: 0, skipped: 0, format: 'node' });
    assert.deepEqual(
      evidence.criteria.map(({ status, exitCode, claim }) => ({ status, exitCode, claim })),
      [
        {
          status: 'met',
          exitCode: 0,
          claim: { criterion: 0, met: true, note: 'node --test passes' },
        },
      ],
    );

    const approved = await e2e.alice.tickets.approve(created.id, {
      authorName: 'Alice Reviewer',
      authorEmail: 'alice@example.com',
    });
    assert.equal(approved.status, 'approved');
    assert.equal(approved.branch, `mags/${created.id}`);
    assert.match(approved.commit ?? '', /^[0-9a-f]{40}$/);

    // The project's own repository (its workspace) has the branch at the approved commit.
    const inProject = await inProjectWorkspace(e2e, `git rev-parse mags/${created.id}`);
    assert.equal(inProject.trim(), approved.commit);

    // `mags ticket apply` in a fresh clone of the fixture repository: exactly that commit.
    const fresh = join(e2e.server.testHome.home, `fresh-${created.id}`);
    execFileSync('git', ['clone', '-q', e2e.checkout, fresh]);
    const applied = await runCli(e2e.server.testHome.home, ['ticket', 'apply', created.id], {
      env: { MAGS_URL: e2e.server.url, MAGS_API_TOKEN: e2e.aliceToken },
      cwd: fresh,
    });
    assert.equal(applied.code, 0, applied.stderr);
    const branch = `mags/${created.id}`;
    assert.equal(git(fresh, 'rev-parse', branch).trim(), approved.commit);
    assert.equal(git(fresh, 'show', `${branch}:sum.js`), fixedSum);
    assert.equal(git(fresh, 'diff', '--no-color', 'main', branch), e2e.fixDiff);
    assert.equal(
      git(fresh, 'log', '-1', '--format=%an <%ae>', branch).trim(),
      'Alice Reviewer <alice@example.com>',
    );
    assert.equal(
      git(fresh, 'rev-parse', `${branch}^`).trim(),
      git(fresh, 'rev-parse', 'main').trim(),
    );
  });

  test("a setup that writes files .gitignore does not cover: the evidence and the approved commit are the agent's change alone", async () => {
    // `npm install` without a lockfile writes package-lock.json; the setup also changes a
    // tracked file. Neither is the agent's.
    const project = await e2e.alice.projects.create({
      name: 'calc-setup',
      repo: e2e.checkout,
      setup:
        'npm install --no-audit --no-fund --offline && test -f package-lock.json && echo "// set up" >> sum.test.js',
      test: 'node --test',
    });
    assert.equal(project.status, 'ready', project.reason ?? '');
    assert.match(project.setupTree ?? '', /^[0-9a-f]{40}$/);
    assert.notEqual(project.setupTree, git(e2e.checkout, 'rev-parse', 'HEAD^{tree}').trim());
    const oracle = e2e.model([fix, finish('sum adds now', true)]);
    const created = await e2e.alice.tickets.create(e2e.body(oracle.id, { project: 'calc-setup' }));
    await followTicket(e2e.alice, created.id);
    const ticket = await e2e.alice.tickets.get(created.id);
    assert.equal(ticket.status, 'awaiting_review', ticket.reason ?? '');
    assert.equal(ticket.baseTree, project.setupTree);
    const evidence = await e2e.alice.tickets.evidence(created.id);
    assert.equal(evidence.diff, e2e.fixDiff);
    assert.deepEqual(
      evidence.diffStat.files.map((file) => file.path),
      ['sum.js'],
    );
    const approved = await e2e.alice.tickets.approve(created.id, {});
    assert.equal(approved.status, 'approved', approved.reason ?? '');
    const fresh = join(e2e.server.testHome.home, `fresh-${created.id}`);
    execFileSync('git', ['clone', '-q', e2e.checkout, fresh]);
    const applied = await runCli(e2e.server.testHome.home, ['ticket', 'apply', created.id], {
      env: { MAGS_URL: e2e.server.url, MAGS_API_TOKEN: e2e.aliceToken },
      cwd: fresh,
    });
    assert.equal(applied.code, 0, applied.stderr);
    const branch = `mags/${created.id}`;
    assert.equal(git(fresh, 'diff', '--no-color', 'main', branch), e2e.fixDiff);
    assert.equal(
      git(fresh, 'rev-parse', `${branch}^`).trim(),
      git(fresh, 'rev-parse', 'main').trim(),
    );
  });

  test('a liar is not believed; request-changes continues in the same workspace with feedback and history', async () => {
    const liar = e2e.model([
      finish('fixed everything', true, 'trust me'),
      // The second attempt: the reviewer's feedback made it do the work.
      fix,
      finish('fixed it for real', true),
    ]);
    const created = await e2e.alice.tickets.create(e2e.body(liar.id));
    await followTicket(e2e.alice, created.id);
    const lied = await e2e.alice.tickets.get(created.id);
    assert.equal(lied.status, 'awaiting_review');
    assert.equal(lied.reason, '1 of 1 criteria not met (1. sum adds); tests failed (exit 1)');
    const evidence = await e2e.alice.tickets.evidence(created.id);
    assert.equal(evidence.diff, '');
    assert.deepEqual(evidence.diffStat.files, []);
    assert.deepEqual(evidence.tests?.counts, { passed: 1, failed: 1, skipped: 0, format: 'node' });
    assert.deepEqual(
      evidence.criteria.map(({ status, exitCode, claim }) => ({ status, exitCode, claim })),
      [{ status: 'not_met', exitCode: 1, claim: { criterion: 0, met: true, note: 'trust me' } }],
    );
    const workspace = lied.workspace;

    const feedback = 'The check fails: sum(2, 3) is -1. Fix sum.js.';
    const sent = await e2e.alice.tickets.requestChanges(created.id, feedback);
    assert.equal(sent.status, 'queued');
    assert.equal(sent.attempt, 2);
    const second = await followTicket(e2e.alice, created.id, 0);
    const fixed = await e2e.alice.tickets.get(created.id);
    assert.equal(fixed.status, 'awaiting_review', fixed.reason ?? '');
    assert.equal(fixed.reason, 'all 1 criteria met; tests passed');
    assert.equal(fixed.workspace, workspace, 'the same workspace');
    assert.equal(fixed.usage.steps, 3);
    assert.deepEqual(statusChanges(second).slice(-4), [
      'awaiting_review→changes_requested',
      'changes_requested→queued',
      'queued→running',
      'running→awaiting_review',
    ]);
    assert.ok(second.some((event) => event.attempt === 2 && event.data.type === 'evidence'));

    // The second attempt's first prompt: the first attempt's conversation, then the feedback.
    const prompt = liar.prompts()[1] ?? '';
    assert.ok(prompt.includes('sum(a, b) in sum.js returns a - b'), 'the task from attempt 1');
    assert.ok(prompt.includes('fixed everything'), "attempt 1's finish call");
    assert.ok(prompt.includes(feedback), 'the feedback');
    assert.ok(prompt.indexOf('fixed everything') < prompt.indexOf(feedback));
    assert.ok(!(liar.prompts()[0] ?? '').includes(feedback));

    const secondEvidence = await e2e.alice.tickets.evidence(created.id);
    assert.equal(secondEvidence.attempt, 2);
    assert.equal(secondEvidence.diff, e2e.fixDiff);
    assert.equal(secondEvidence.criteria[0]?.status, 'met');
    assert.equal((await e2e.alice.tickets.evidence(created.id, 1)).criteria[0]?.status, 'not_met');
  });

  test('a model that never finishes is ended by the step budget; the evidence is still assembled', async () => {
    const endless = e2e.model(() => call('run_command', { command: 'echo still looking' }));
    const created = await e2e.alice.tickets.create(
      e2e.body(endless.id, { budget: { maxSteps: 3 } }),
    );
    const events = await followTicket(e2e.alice, created.id);
    const ticket = await e2e.alice.tickets.get(created.id);
    assert.equal(ticket.status, 'awaiting_review');
    assert.equal(
      ticket.reason,
      'stopped after 3 steps in this attempt (budget: 3 steps per attempt); 1 of 1 criteria not met (1. sum adds); tests failed (exit 1)',
    );
    assert.equal(endless.prompts().length, 3);
    assert.equal(ticket.usage.steps, 3);
    const evidence = await e2e.alice.tickets.evidence(created.id);
    assert.equal(evidence.agentEnd, 'budget_steps');
    assert.equal(evidence.summary, null);
    assert.equal(evidence.criteria[0]?.status, 'not_met');
    assert.equal(evidence.criteria[0]?.claim, null);
    assert.equal(eventTypes(events).filter((type) => type === 'evidence').length, 1);
    assert.ok(!eventTypes(events).includes('finish'));
  });

  test("a person's comment on a running ticket reaches the model at its next step", async () => {
    let reached!: () => void;
    const stepReached = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let post!: () => void;
    const commented = new Promise<void>((resolve) => {
      post = resolve;
    });
    const comment = 'Keep the other test passing too.';
    const listener = e2e.model(async (index) => {
      if (index === 0) {
        reached();
        await commented; // the first step answers only once the comment is in
        return call('run_command', { command: 'true' });
      }
      return finish('listened', false);
    });
    const created = await e2e.alice.tickets.create(e2e.body(listener.id));
    try {
      await stepReached;
      assert.equal((await e2e.alice.tickets.get(created.id)).status, 'running');
      await e2e.alice.tickets.comment(created.id, comment);
    } finally {
      post();
    }
    const events = await followTicket(e2e.alice, created.id);
    const prompts = listener.prompts();
    assert.equal(prompts.length, 2);
    assert.ok(!(prompts[0] ?? '').includes(comment));
    assert.ok((prompts[1] ?? '').includes(comment), 'the second step saw the comment');
    const stored = events.find((event) => event.data.type === 'comment')?.data;
    assert.deepEqual(stored, { type: 'comment', author: 'alice', text: comment });
    assert.equal((await e2e.alice.tickets.get(created.id)).status, 'awaiting_review');
  });
});
