/**
 * Plans end to end with the real parts: a real server on the namespace runtime, the real PlanGit
 * (merged forks, integration, the plan branch), the built-in agent driven by scripted models, and
 * auto-approval of tickets whose criteria the platform verified. A diamond of five tickets runs
 * its independent ones at once and starts each dependent from its dependencies' results; a
 * failing ticket blocks only its dependents until retried; two tickets changing the same lines
 * leave their dependent in conflict, with nothing overwritten.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { APICallError } from 'ai';
import { CreatePlanBodySchema, type PlanEvent } from '../src/api/plans.ts';
import type { PlanManager } from '../src/plans/plan-manager.ts';
import { withWorkspaceSession } from '../src/projects/workspace-session.ts';
import type { TicketManager } from '../src/tickets/ticket-manager.ts';
import { ownerWorkspaceName } from '../src/workspaces/owner-workspace.ts';
import {
  importProject,
  itemsByKey,
  type PlanTestBed,
  startPlanTestBed,
  ticketSpec,
  until,
  writesFile,
} from './helpers/end-to-end-plans.ts';
import { call, finish } from './helpers/end-to-end-tickets.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping end-to-end plan tests: ${skip}\n`);

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8' });

/** Status changes of the plan's tickets, in the plan's event order, as `key:to`. */
function ticketStatuses(events: PlanEvent[]): string[] {
  return events.flatMap((event) =>
    event.data.type === 'ticket_event' && event.data.event.data.type === 'status'
      ? [`${event.data.key}:${event.data.event.data.to}`]
      : [],
  );
}

describe('plans end to end (real parts, scripted models)', { skip }, () => {
  let bed: PlanTestBed;
  let plans: PlanManager;
  let tickets: TicketManager;
  before(async () => {
    bed = await startPlanTestBed();
    await bed.start();
    await importProject(bed, 'notes');
    plans = bed.running.services.plans;
    tickets = bed.running.services.tickets;
  });
  after(() => bed?.close());

  test('a diamond of five tickets: a and b at once, c from both, d from c, e from a; integrated, approved, fetched', async () => {
    let planId = '';
    const bothRunning = async () => {
      // a's agent waits here until b runs too: a plan that ran them one after the other never gets past it.
      await until('a and b running at once', async () => {
        if (!planId) return false;
        const running = await tickets.list('alice', { plan: planId, status: 'running' });
        return running.length >= 2;
      });
      return call('write_file', { path: 'a.txt', content: 'a\n' });
    };
    const a = bed.model((step) => (step === 0 ? bothRunning() : finish('wrote a.txt', true)));
    const b = bed.model(writesFile('b'));
    const c = bed.model(writesFile('c', [call('run_command', { command: 'cat a.txt b.txt' })]));
    const d = bed.model(writesFile('d'));
    const e = bed.model(writesFile('e'));
    const body = CreatePlanBodySchema.parse({
      project: 'notes',
      request: 'five notes',
      auto: true,
      autoApprove: true,
      spec: {
        summary: 'a diamond',
        tickets: [
          ticketSpec('a', a.id),
          ticketSpec('b', b.id),
          ticketSpec('c', c.id, { dependsOn: ['a', 'b'], files: ['a.txt', 'b.txt', 'c.txt'] }),
          ticketSpec('d', d.id, { dependsOn: ['c'], files: ['a.txt', 'b.txt', 'c.txt', 'd.txt'] }),
          ticketSpec('e', e.id, { dependsOn: ['a'], files: ['a.txt', 'e.txt'] }),
        ],
      },
    });
    const created = await plans.create('alice', body);
    planId = created.id;
    assert.equal(created.status, 'running');
    const settled = await plans.wait('alice', created.id);
    assert.equal(settled.status, 'awaiting_review', settled.reason ?? '');

    const events: PlanEvent[] = [];
    for await (const event of plans.events('alice', created.id)) events.push(event);
    const statuses = ticketStatuses(events);
    const firstEnd = Math.min(
      statuses.indexOf('a:awaiting_review'),
      statuses.indexOf('b:awaiting_review'),
    );
    assert.ok(statuses.indexOf('a:running') < firstEnd, statuses.join(' '));
    assert.ok(statuses.indexOf('b:running') < firstEnd, statuses.join(' '));
    // Dependents start after their dependencies are approved, never before.
    assert.ok(statuses.indexOf('c:running') > statuses.indexOf('a:approved'));
    assert.ok(statuses.indexOf('c:running') > statuses.indexOf('b:approved'));
    assert.ok(statuses.indexOf('d:running') > statuses.indexOf('c:approved'));
    assert.ok(statuses.indexOf('e:running') > statuses.indexOf('a:approved'));
    const merges = events.flatMap((event) => (event.data.type === 'merge' ? [event.data] : []));
    // The integration merges the tickets nothing depends on (d and e): theirs hold the rest.
    assert.deepEqual(
      merges.map((merge) => `${merge.key}:${merge.result}:${merge.commits.length}`).sort(),
      ['c:merged:2', 'd:merged:1', 'e:merged:1', 'null:merged:2'].sort(),
    );

    const items = itemsByKey(settled);
    for (const key of ['a', 'b', 'c', 'd', 'e']) {
      assert.equal(items[key]?.ticketStatus, 'approved', key);
      const ticket = await tickets.get('alice', items[key]?.ticket ?? '');
      assert.equal(ticket.attempt, 1, `${key} ran once`);
    }
    // c saw a's and b's files (its own command, in its own workspace).
    const c1 = await tickets.evidence('alice', items.c?.ticket ?? '');
    assert.deepEqual(
      c1.criteria.map((criterion) => criterion.status),
      ['met'],
    );
    assert.deepEqual(
      c1.diffStat.files.map((file) => file.path),
      ['c.txt'],
      "c's diff is its own change: a's and b's are its base",
    );
    const d1 = await tickets.evidence('alice', items.d?.ticket ?? '');
    assert.deepEqual(
      d1.diffStat.files.map((file) => file.path),
      ['d.txt'],
    );
    assert.equal(d1.criteria[0]?.status, 'met', 'd sees a, b and c');

    const evidence = await plans.evidence('alice', created.id);
    assert.deepEqual(evidence.mergeOrder, ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(evidence.diffStat.files.map((file) => file.path).sort(), [
      'a.txt',
      'b.txt',
      'c.txt',
      'd.txt',
      'e.txt',
    ]);
    assert.equal(evidence.tests?.exitCode, 0);
    assert.deepEqual(
      evidence.tickets.map(
        (ticket) => `${ticket.key}:${ticket.criteria.map((each) => each.status)}`,
      ),
      ['a:met', 'b:met', 'c:met', 'd:met', 'e:met'],
    );
    assert.equal(evidence.baseCommit, git(bed.checkout, 'rev-parse', 'HEAD').trim());
    assert.ok(evidence.usage.costUsd > 0);

    await assert.rejects(plans.bundle('alice', created.id), { code: 'plan_bundle_not_found' });
    const approved = await plans.approve('alice', created.id, { by: 'alice' });
    assert.equal(approved.status, 'approved');
    assert.equal(approved.branch, `mags/plan-${created.id}`);
    const bundle = await plans.bundle('alice', created.id);
    const bundlePath = join(bed.testHome.home, `${created.id}.bundle`);
    await writeFile(bundlePath, bundle);
    const fresh = join(bed.testHome.home, `fresh-${created.id}`);
    execFileSync('git', ['clone', '-q', bed.checkout, fresh]);
    git(fresh, 'fetch', '-q', bundlePath, `${approved.branch}:${approved.branch}`);
    assert.equal(git(fresh, 'rev-parse', approved.branch ?? '').trim(), approved.commit);
    assert.equal(
      git(fresh, 'diff', '--name-only', 'main', approved.branch ?? '')
        .trim()
        .split('\n')
        .sort()
        .join(' '),
      'a.txt b.txt c.txt d.txt e.txt',
    );
    await assert.rejects(plans.approve('alice', created.id, { by: 'alice' }), {
      code: 'plan_status',
    });
    // Approved: the integration's workspace is discarded, its record kept (the branch has it).
    assert.equal(approved.integration?.commit, settled.integration?.commit);
    const integration = ownerWorkspaceName('alice', settled.integration?.workspace ?? '');
    assert.equal(await bed.running.services.context.workspaces.get(integration), undefined);
  });

  test('a failing ticket blocks only its dependents; retried, it unblocks them', async () => {
    const refused = new APICallError({
      message: 'Invalid request',
      url: 'https://api.openai.test/v1/responses',
      requestBodyValues: {},
      statusCode: 400,
      isRetryable: false,
    });
    // Fails its first attempt (a provider error that is not retried); does the work the second time.
    const x = bed.model([
      { error: refused },
      call('write_file', { path: 'x.txt', content: 'x\n' }),
      finish('wrote x.txt', true),
    ]);
    const y = bed.model(writesFile('y'));
    const w = bed.model(writesFile('w'));
    const z = bed.model(writesFile('z'));
    const created = await plans.create(
      'alice',
      CreatePlanBodySchema.parse({
        project: 'notes',
        request: 'x, then y and w; z alone',
        auto: true,
        autoApprove: true,
        spec: {
          summary: 'one fails',
          tickets: [
            ticketSpec('x', x.id),
            ticketSpec('y', y.id, { dependsOn: ['x'] }),
            ticketSpec('w', w.id, { dependsOn: ['y'] }),
            ticketSpec('z', z.id),
          ],
        },
      }),
    );
    const blocked = await plans.wait('alice', created.id);
    assert.equal(blocked.status, 'blocked');
    const items = itemsByKey(blocked);
    assert.equal(items.x?.ticketStatus, 'failed');
    assert.equal(items.z?.ticketStatus, 'approved', 'the independent ticket finished');
    assert.equal(items.y?.state, 'blocked');
    assert.equal(items.w?.state, 'blocked');
    assert.match(
      items.y?.reason ?? '',
      new RegExp(`^blocked by x \\(${items.x?.ticket}\\) failed: `),
    );
    assert.match(items.w?.reason ?? '', /^blocked by x /);
    assert.match(blocked.reason ?? '', /x \(tkt_[^)]+\) failed: .*; y, w wait for it$/);
    // A person cannot start y: its plan does.
    await assert.rejects(tickets.run('alice', items.y?.ticket ?? ''), {
      code: 'plan_ticket_waiting',
    });
    await assert.rejects(plans.retry('alice', created.id, { ticket: 'y' }), {
      code: 'plan_ticket_status',
    });

    const retried = await plans.retry('alice', created.id, { ticket: 'x' });
    assert.equal(retried.status, 'running');
    assert.deepEqual(
      retried.tickets.map((item) => item.state),
      ['dispatched', 'waiting', 'waiting', 'dispatched'],
    );
    const done = await plans.wait('alice', created.id);
    assert.equal(done.status, 'awaiting_review', done.reason ?? '');
    const after = itemsByKey(done);
    assert.equal((await tickets.get('alice', after.x?.ticket ?? '')).attempt, 2);
    assert.equal((await tickets.get('alice', after.z?.ticket ?? '')).attempt, 1);
    assert.equal(after.w?.ticketStatus, 'approved');
    // Closed while awaiting review: the integration's workspace is discarded, its record kept.
    const workspaces = bed.running.services.context.workspaces;
    const integration = ownerWorkspaceName('alice', done.integration?.workspace ?? '');
    assert.notEqual(await workspaces.get(integration), undefined, 'there before the close');
    const closed = await plans.close('alice', created.id, { by: 'alice' });
    assert.equal(closed.integration?.workspace, done.integration?.workspace);
    assert.equal(await workspaces.get(integration), undefined);
  });

  test('two tickets changing the same lines: their dependent is in conflict, nothing overwritten; retried, its agent resolves it and the plan integrates', async () => {
    const context = bed.running.services.context;
    const workspaceNames = async () =>
      (await context.workspaces.list()).map((summary) => summary.name).sort();
    /** The project workspace's repository: HEAD and every ref. */
    const projectRefs = () =>
      withWorkspaceSession(
        context,
        { workspace: ownerWorkspaceName('alice', 'project.notes') },
        async (sandbox) =>
          (
            await sandbox.exec('git rev-parse HEAD && git for-each-ref', {
              timeoutMs: 60_000,
              cwd: '/workspace',
            })
          ).output,
      );
    const edit = (to: string) =>
      bed.model([
        call('edit_file', { path: 'sum.js', oldText: 'a - b', newText: to }),
        finish('sum adds', true),
      ]);
    const p = edit('a + b');
    const q = edit('b + a');
    // Its first attempt starts in the conflicting merge: it resolves sum.js, then writes r.txt.
    const r = bed.model([
      call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' }),
      call('write_file', { path: 'r.txt', content: 'r\n' }),
      call('finish', {
        summary: 'resolved sum.js, wrote r.txt',
        claims: [
          { criterion: 1, met: true },
          { criterion: 2, met: true },
        ],
      }),
    ]);
    const workspacesBefore = await workspaceNames();
    const refsBefore = await projectRefs();
    const created = await plans.create(
      'alice',
      CreatePlanBodySchema.parse({
        project: 'notes',
        request: 'two fixes of one line',
        auto: true,
        autoApprove: true,
        spec: {
          summary: 'a conflict',
          tickets: [
            ticketSpec('p', p.id, { check: 'grep -q "a + b" sum.js' }),
            ticketSpec('q', q.id, { check: 'grep -q "b + a" sum.js' }),
            ticketSpec('r', r.id, { dependsOn: ['p', 'q'] }),
          ],
        },
      }),
    );
    const blocked = await plans.wait('alice', created.id);
    assert.equal(blocked.status, 'blocked');
    const items = itemsByKey(blocked);
    assert.equal(items.r?.state, 'conflict');
    assert.deepEqual(items.r?.conflictFiles, ['sum.js']);
    assert.match(blocked.reason ?? '', /conflict in sum\.js/);
    const r1 = await tickets.get('alice', items.r?.ticket ?? '');
    assert.equal(r1.status, 'draft', 'r never ran');
    assert.equal(r1.workspace, null);
    const events: PlanEvent[] = [];
    for await (const event of plans.events('alice', created.id)) events.push(event);
    const merge = events.find((event) => event.data.type === 'merge')?.data;
    assert.deepEqual(merge?.type === 'merge' && [merge.key, merge.result, merge.files], [
      'r',
      'conflict',
      ['sum.js'],
    ]);
    // Each side is still what it was approved as.
    for (const [key, line] of [
      ['p', 'a + b'],
      ['q', 'b + a'],
    ] as const) {
      const ticket = await tickets.get('alice', items[key]?.ticket ?? '');
      const bundlePath = join(bed.testHome.home, `${ticket.id}.bundle`);
      await writeFile(bundlePath, await tickets.bundle('alice', ticket.id));
      const fresh = join(bed.testHome.home, `fresh-${ticket.id}`);
      execFileSync('git', ['clone', '-q', bed.checkout, fresh]);
      git(fresh, 'fetch', '-q', bundlePath, `mags/${ticket.id}:side`);
      assert.match(git(fresh, 'show', 'side:sum.js'), new RegExp(line.replace('+', '\\+')));
    }
    // The conflicting merge left no fork and no ref: only the approvals of p and q added theirs.
    const withoutBranches = (refs: string, ids: (string | null | undefined)[]) =>
      refs
        .split('\n')
        .filter((line) => !ids.some((id) => id && line.endsWith(`refs/heads/mags/${id}`)))
        .join('\n');
    const refsAtConflict = await projectRefs();
    assert.equal(
      withoutBranches(refsAtConflict, [items.p?.ticket, items.q?.ticket]),
      withoutBranches(refsBefore, []),
    );
    const ticketWorkspaces = (names: string[]) =>
      names.filter((name) => !workspacesBefore.includes(name));
    assert.deepEqual(
      ticketWorkspaces(await workspaceNames()).filter((name) => name.includes(r1.id)),
      [],
      'no fork of r is left',
    );

    const retried = await plans.retry('alice', created.id, { ticket: 'r' });
    assert.equal(retried.status, 'running');
    const done = await plans.wait('alice', created.id);
    assert.equal(done.status, 'awaiting_review', done.reason ?? '');
    const r2 = await tickets.get('alice', itemsByKey(done).r?.ticket ?? '');
    assert.equal(r2.status, 'approved');
    assert.match(
      r2.request,
      /^First resolve the merge conflicts in sum\.js, keeping both sides' intent/,
    );
    assert.deepEqual(r2.criteria[0], {
      text: 'No merge conflict markers are left in sum.js',
      check: "! grep -nE '^(<<<<<<<|>>>>>>>)' -- 'sum.js'",
    });
    const evidence = await plans.evidence('alice', created.id);
    const rCriteria = evidence.tickets.find((each) => each.key === 'r')?.criteria ?? [];
    assert.deepEqual(
      rCriteria.map((result) => result.status),
      ['met', 'met'],
      'checked again on the integration',
    );
    assert.match(evidence.diff, /a \+ b/);
    assert.equal(
      withoutBranches(await projectRefs(), [r2.id]),
      refsAtConflict,
      'only the approval of r added a ref',
    );
    assert.deepEqual(
      ticketWorkspaces(await workspaceNames()).filter((name) => name.includes(r2.id)),
      [`${ownerWorkspaceName('alice', r2.workspace ?? '')}`],
      'only the workspace r worked in is left of its forks',
    );
  });
});
