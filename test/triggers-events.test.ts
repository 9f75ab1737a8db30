/**
 * Event triggers end to end (a real server, the namespace runtime, scripted agent models): an
 * approved ticket fires `ticket.approved` triggers (never a trigger on its own ticket's approval),
 * a failed job on a workspace fires `job.failed:W` (not a success, not another workspace), and
 * `autoApprove` approves only what the evidence verifies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  call,
  type EndToEndServer,
  finish,
  followTicket,
  startEndToEndServer,
} from './helpers/end-to-end-tickets.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { calcTemplate, waitForFirings } from './helpers/triggers.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping event trigger tests: ${skip}\n`);

const fix = call('edit_file', { path: 'sum.js', oldText: 'a - b', newText: 'a + b' });

describe('event triggers (real server, scripted models)', { skip }, () => {
  let e2e: EndToEndServer;
  const settled = () => e2e.server.server.services.triggers.settled();
  before(async () => {
    e2e = await startEndToEndServer();
  });
  after(() => e2e?.close());

  test('an approved ticket fires an --on ticket.approved trigger, but not on its own ticket', async () => {
    const follower = e2e.model(() => finish('followed up', true));
    await e2e.alice.triggers.create({
      name: 'after-approval',
      project: 'calc',
      template: calcTemplate(follower.id, 'Follow up {{payload.title}} ({{event.ticket}})'),
      event: { type: 'ticket.approved', project: 'calc' },
    });
    const oracle = e2e.model([fix, finish('sum adds now', true)]);
    const worked = await e2e.alice.tickets.create(e2e.body(oracle.id));
    await followTicket(e2e.alice, worked.id);
    await e2e.alice.tickets.approve(worked.id);
    await settled();
    const [firing, ...more] = await e2e.alice.triggers.firings('after-approval');
    assert.equal(more.length, 0);
    assert.deepEqual([firing?.source, firing?.status], ['event', 'created']);
    assert.deepEqual(firing?.payload, {
      ticket: worked.id,
      title: worked.title,
      project: 'calc',
      branch: `mags/${worked.id}`,
      commit: (await e2e.alice.tickets.get(worked.id)).commit,
    });
    const followUp = await e2e.alice.tickets.get(firing?.ticket as string);
    assert.equal(followUp.title, `Follow up ${worked.title} (${worked.id})`);
    await followTicket(e2e.alice, followUp.id);
    // Its own ticket approved: no loop (recorded as skipped, with the reason).
    await e2e.alice.tickets.approve(followUp.id);
    await settled();
    const [loop, ...rest] = await e2e.alice.triggers.firings('after-approval');
    assert.equal(rest.length, 1);
    assert.equal(loop?.status, 'skipped');
    assert.match(loop?.reason ?? '', /^a loop: /);
    // Bob's approvals are not alice's events (and bob has no such trigger).
    assert.deepEqual(await e2e.bob.triggers.list(), []);
  });

  test('a failed job on workspace W fires --on job.failed:W; a success or another workspace does not', async () => {
    const model = e2e.model(() => finish('looked at the job', true));
    await e2e.alice.triggers.create({
      name: 'on-failure',
      project: 'calc',
      template: calcTemplate(model.id, 'Job {{payload.job}} failed: {{payload.command}}'),
      event: { type: 'job.failed', workspace: 'nightly' },
    });
    for (const [command, workspace] of [
      ['exit 3', 'nightly'],
      ['true', 'nightly'],
      ['exit 4', 'elsewhere'],
    ] as const) {
      await e2e.alice.runAndWait(command, { workspace });
    }
    const firings = await waitForFirings(e2e.alice, 'on-failure', (all) => all.length >= 1);
    await settled();
    const all = await e2e.alice.triggers.firings('on-failure');
    assert.equal(all.length, 1, JSON.stringify(all));
    const payload = firings[0]?.payload as Record<string, unknown>;
    assert.deepEqual(
      [payload.workspace, payload.command, payload.exitCode],
      ['nightly', 'exit 3', 3],
    );
    const ticket = await e2e.alice.tickets.get(firings[0]?.ticket as string);
    assert.equal(ticket.title, `Job ${payload.job} failed: exit 3`);
    await followTicket(e2e.alice, ticket.id);
  });

  test('autoApprove approves a ticket whose criteria are verified met; a claim alone waits', async () => {
    const oracle = e2e.model([fix, finish('sum adds now', true)]);
    const liar = e2e.model([finish('all done, trust me', true)]);
    for (const [name, model] of [
      ['auto-oracle', oracle.id],
      ['auto-liar', liar.id],
    ] as const) {
      await e2e.alice.triggers.create({
        name,
        project: 'calc',
        template: calcTemplate(model, name),
        webhook: true,
        autoApprove: true,
      });
    }
    const results: Record<string, string> = {};
    for (const name of ['auto-oracle', 'auto-liar']) {
      const firing = await e2e.alice.triggers.fire(name, { issue: { title: name } });
      assert.equal(firing.status, 'created', firing.reason ?? '');
      await followTicket(e2e.alice, firing.ticket as string);
      await settled();
      results[name] = (await e2e.alice.tickets.get(firing.ticket as string)).status;
    }
    assert.deepEqual(results, { 'auto-oracle': 'approved', 'auto-liar': 'awaiting_review' });
  });
});
