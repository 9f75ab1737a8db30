/**
 * The plan dispatch's paths the end-to-end tests do not reach, with the real parts (TicketManager,
 * PlanGit on the namespace runtime, scripted agent models): a stop while a dependent's results
 * are merged (a gate holds the real merge's answer), the recovery of a plan whose items a gone
 * server left waiting, merging or started, and an integration conflict resolved by
 * `resolve-integration`. A second PlanManager on the server's own parts
 * drives these plans (with the gated PlanGit, or as another server process).
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { CreatePlanBodySchema, type PlanEvent } from '../src/api/plans.ts';
import type { ServerInstance } from '../src/config/server-instance.ts';
import { ProjectPlanGit } from '../src/plans/git/project-plan-git.ts';
import { PlanManager } from '../src/plans/plan-manager.ts';
import type { MergedFork, PlanGit } from '../src/plans/plan-parts.ts';
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
import { call } from './helpers/end-to-end-tickets.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping plan dispatch tests: ${skip}\n`);

/** The real PlanGit, with each `forkMerged` held after the fork is made until released. */
class GatedPlanGit implements PlanGit {
  readonly #inner: PlanGit;
  readonly forks: { fork: MergedFork; signal: AbortSignal | undefined }[] = [];
  #release!: () => void;
  readonly #released = new Promise<void>((resolve) => {
    this.#release = resolve;
  });
  constructor(inner: PlanGit) {
    this.#inner = inner;
  }
  release(): void {
    this.#release();
  }
  async forkMerged(...args: Parameters<PlanGit['forkMerged']>): Promise<MergedFork> {
    const fork = await this.#inner.forkMerged(...args);
    this.forks.push({ fork, signal: args[4]?.signal });
    await this.#released;
    return fork;
  }
  integrate(...args: Parameters<PlanGit['integrate']>) {
    return this.#inner.integrate(...args);
  }
  approveIntegration(...args: Parameters<PlanGit['approveIntegration']>) {
    return this.#inner.approveIntegration(...args);
  }
  discard(...args: Parameters<PlanGit['discard']>) {
    return this.#inner.discard(...args);
  }
}

describe('plan dispatch (real parts, scripted models)', { skip }, () => {
  let bed: PlanTestBed;
  before(async () => {
    bed = await startPlanTestBed();
    await bed.start();
    await importProject(bed, 'notes');
  });
  after(() => bed?.close());

  /** Another PlanManager on the running server's parts. */
  const planManager = (git: PlanGit, instance?: ServerInstance) => {
    const { repository, tickets, projects } = bed.running.services;
    return new PlanManager({
      repository,
      tickets,
      projects,
      git,
      planner: () => Promise.reject(new Error('no planner in this test')),
      checkModel: () => {},
      instance,
      log: () => {},
    });
  };
  const realGit = () => {
    const { repository, projects, context, sandboxes } = bed.running.services;
    return new ProjectPlanGit({ context, repository, projects, sandboxes });
  };

  test('a stop during a merge: the merge is aborted, its fork discarded, its item not dispatched', async () => {
    const git = new GatedPlanGit(realGit());
    const plans = planManager(git);
    try {
      const a = bed.model(writesFile('a'));
      const b = bed.model(writesFile('b'));
      const created = await plans.create(
        'alice',
        CreatePlanBodySchema.parse({
          project: 'notes',
          request: 'a, then b',
          auto: true,
          autoApprove: true,
          spec: {
            summary: 'two in a row',
            tickets: [
              ticketSpec('a', a.id),
              ticketSpec('b', b.id, { dependsOn: ['a'], files: ['a.txt', 'b.txt'] }),
            ],
          },
        }),
      );
      await until('b merged and held', async () => git.forks.length === 1);
      const held = git.forks[0];
      assert.ok(held);
      assert.equal(held.signal?.aborted, false);
      const workspaces = bed.running.services.context.workspaces;
      const fork = ownerWorkspaceName('alice', held.fork.workspace);
      assert.notEqual(await workspaces.get(fork), undefined, 'the fork is there while held');
      assert.equal(itemsByKey(await plans.get('alice', created.id)).b?.state, 'merging');

      const stopped = await plans.stop('alice', created.id, { by: 'alice' });
      assert.equal(stopped.status, 'stopped');
      assert.equal(held.signal?.aborted, true, "the stop aborts the plan's merge");
      git.release();
      await until('the merge ended', async () => {
        const plan = await plans.get('alice', created.id);
        return itemsByKey(plan).b?.state !== 'merging';
      });
      const plan = await plans.get('alice', created.id);
      const item = itemsByKey(plan).b;
      assert.equal(item?.state, 'waiting');
      const events: PlanEvent[] = [];
      for await (const event of plans.events('alice', created.id)) events.push(event);
      const bStates = events.flatMap((event) =>
        event.data.type === 'ticket_state' && event.data.key === 'b'
          ? [`${event.data.from}>${event.data.to}:${event.data.reason}`]
          : [],
      );
      assert.equal(bStates.at(-1), 'merging>waiting:its plan is stopped');
      assert.equal(await workspaces.get(fork), undefined, 'the fork is discarded');
      const ticket = await bed.running.services.tickets.get('alice', item?.ticket ?? '');
      assert.equal(ticket.status, 'draft', 'b was not dispatched');
      assert.equal(ticket.workspace, null);
    } finally {
      git.release();
      await plans.shutdown();
    }
  });

  test('recovery: an item whose ticket left draft is dispatched; one merging with no merge running waits again (then is blocked by its dead dependency)', async () => {
    const { repository, tickets } = bed.running.services;
    const drafting = planManager(realGit());
    const a = bed.model(writesFile('a'));
    const b = bed.model(writesFile('b'));
    const draft = await drafting.create(
      'alice',
      CreatePlanBodySchema.parse({
        project: 'notes',
        request: 'a, then b',
        spec: {
          summary: 'left by a gone server',
          tickets: [ticketSpec('a', a.id), ticketSpec('b', b.id, { dependsOn: ['a'] })],
        },
      }),
    );
    await drafting.shutdown();
    // What a server that went away mid-plan leaves: a's ticket closed before the plan saved that
    // it started it (still `waiting`), b `merging` with no merge running anywhere.
    const items = draft.tickets.map((item) => ({ ...item }));
    for (const item of items) {
      const ticket = await tickets.create(
        'alice',
        {
          project: 'notes',
          title: item.title,
          request: item.request,
          criteria: item.criteria,
          model: item.model,
        },
        { plan: draft.id },
      );
      item.ticket = ticket.id;
      item.ticketStatus = 'draft';
      item.state = item.key === 'a' ? 'waiting' : 'merging';
    }
    const [itemA, itemB] = items;
    await tickets.close('alice', itemA?.ticket ?? '', { by: 'alice' });
    await repository.updatePlan(draft.id, {
      status: 'running',
      tickets: items,
      baseCommit: null,
      approvedAt: new Date().toISOString(),
      host: hostname(),
      server: 'noboot:1:1',
    });

    const recovering = planManager(realGit(), { host: hostname(), server: 'noboot:2:2' });
    try {
      const report = await recovering.recover();
      assert.deepEqual(report, { resumed: 1, failed: 0 });
      const plan = await recovering.get('alice', draft.id);
      const after = itemsByKey(plan);
      assert.equal(after.a?.state, 'dispatched', 'its ticket left draft: it was started');
      assert.equal(after.a?.ticketStatus, 'closed');
      assert.equal(after.b?.state, 'blocked');
      assert.equal(after.b?.blockedBy, 'a');
      assert.equal(plan.status, 'blocked', plan.reason ?? '');
      assert.equal(plan.server, 'noboot:2:2', 'the recovering process drives it');
      const events: PlanEvent[] = [];
      for await (const event of recovering.events('alice', draft.id)) events.push(event);
      const states = events.flatMap((event) =>
        event.data.type === 'ticket_state'
          ? [`${event.data.key}:${event.data.from}>${event.data.to}:${event.data.reason}`]
          : [],
      );
      assert.deepEqual(states, [
        'a:waiting>dispatched:its ticket was started',
        'b:merging>waiting:its merge was cut off',
        `b:waiting>blocked:${after.b?.reason}`,
      ]);
      const bTicket = await tickets.get('alice', itemB?.ticket ?? '');
      assert.equal(bTicket.status, 'draft');
    } finally {
      await recovering.shutdown();
    }
  });

  test('two leaf tickets changing the same lines: resolve-integration appears in conflict; retried, it resolves it and the plan integrates', async () => {
    const plans = bed.running.services.plans;
    const tickets = bed.running.services.tickets;
    const resolver = bed.model([
      call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b + 0;\n' }),
      call('finish', {
        summary: 'resolved sum.js',
        claims: [
          { criterion: 1, met: true },
          { criterion: 2, met: true },
        ],
      }),
    ]);
    // resolve-integration is created by the plan, without a model: it takes the project's.
    await bed.running.services.projects.create('alice', {
      name: 'clash',
      repo: bed.checkout,
      test: 'true',
      model: resolver.id,
    });
    const writes = (content: string) =>
      bed.model([
        call('write_file', { path: 'sum.js', content }),
        call('finish', { summary: 'changed sum.js', claims: [{ criterion: 1, met: true }] }),
      ]);
    const p = writes('exports.sum = (a, b) => a + b;\n');
    const q = writes('exports.sum = (a, b) => b + a;\n');
    const created = await plans.create(
      'alice',
      CreatePlanBodySchema.parse({
        project: 'clash',
        request: 'fix sum twice',
        auto: true,
        autoApprove: true,
        spec: {
          summary: 'two leaves on one line',
          tickets: [
            ticketSpec('p', p.id, { files: ['sum.js'] }),
            ticketSpec('q', q.id, { files: ['sum.js'] }),
          ],
        },
      }),
    );
    const blocked = await plans.wait('alice', created.id);
    assert.equal(blocked.status, 'blocked', blocked.reason ?? '');
    assert.match(blocked.reason ?? '', /integration conflicts in sum\.js/);
    const conflicting = itemsByKey(blocked)['resolve-integration'];
    assert.equal(conflicting?.state, 'conflict');
    assert.deepEqual(conflicting?.conflictFiles, ['sum.js']);
    assert.deepEqual(conflicting?.dependsOn, ['p', 'q']);

    await plans.retry('alice', created.id, { ticket: 'resolve-integration' });
    await until('resolve-integration reviewed', async () => {
      const plan = await plans.get('alice', created.id);
      const status = itemsByKey(plan)['resolve-integration']?.ticketStatus;
      return status === 'awaiting_review' || status === 'approved' || plan.status !== 'running';
    });
    const resolving = itemsByKey(await plans.get('alice', created.id))['resolve-integration'];
    if (resolving?.ticketStatus === 'awaiting_review') {
      // Its second criterion has no check: a person approves what auto-approval leaves.
      await tickets.approve('alice', resolving.ticket ?? '', {});
    }
    const integrated = await plans.wait('alice', created.id);
    assert.equal(integrated.status, 'awaiting_review', integrated.reason ?? '');
    const evidence = await plans.evidence('alice', created.id);
    assert.deepEqual(
      evidence.diffStat.files.map((file) => file.path),
      ['sum.js'],
    );
    assert.match(evidence.diff, /\+exports\.sum = \(a, b\) => a \+ b \+ 0;/);
    assert.doesNotMatch(evidence.diff, /<<<<<<<|>>>>>>>/);
  });
});
