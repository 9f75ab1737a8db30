/**
 * Plans across a server restart and at their limits, with the real parts and scripted models: a
 * server stopped mid-plan (its successor on the same state takes the plan up, runs again the
 * ticket the stop failed and never a finished one), a plan budget spent (its running ticket
 * stopped, the plan failed with the reason), an edit that makes a cycle refused, another owner's
 * plan a 404, approval in the wrong status a 409.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreatePlanBodySchema, PlanSpecSchema } from '../src/api/plans.ts';
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
import type { ScriptEntry } from './helpers/scripted-model.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping plan restart tests: ${skip}\n`);

describe('plans across a restart and at their limits (real parts, scripted models)', {
  skip,
}, () => {
  let bed: PlanTestBed;
  before(async () => {
    bed = await startPlanTestBed();
    // A server id of no live process: its successor (this process's own id) takes its work up.
    await bed.start({ host: (await import('node:os')).hostname(), server: 'gone:1:1' });
    await importProject(bed, 'notes');
  });
  after(() => bed?.close());

  test('a server stopped mid-plan: the next one resumes it, running again only the ticket the stop cut off', async () => {
    let release!: (entry: ScriptEntry) => void;
    const held = new Promise<ScriptEntry>((resolve) => {
      release = resolve;
    });
    let holding = false;
    const first = bed.model(writesFile('first'));
    // Its first attempt hangs in its first step until the server stops; the next one works.
    const second = bed.model((step) => {
      if (step === 0) {
        holding = true;
        return held;
      }
      return step === 1
        ? call('write_file', { path: 'second.txt', content: 'second\n' })
        : finish('wrote second.txt', true);
    });
    const plans = bed.running.services.plans;
    const created = await plans.create(
      'alice',
      CreatePlanBodySchema.parse({
        project: 'notes',
        request: 'first, then second',
        auto: true,
        autoApprove: true,
        spec: {
          summary: 'two in a row',
          tickets: [
            ticketSpec('first', first.id),
            ticketSpec('second', second.id, { dependsOn: ['first'] }),
          ],
        },
      }),
    );
    await until('the second ticket mid-step', async () => holding);
    const stopping = bed.stop();
    release({ error: new Error('the server went away') });
    await stopping;
    const firstPrompts = first.prompts().length;

    const restarted = await bed.start();
    assert.deepEqual(restarted.recovered.plans, { resumed: 1, failed: 0 });
    const resumed = await restarted.services.plans.wait('alice', created.id);
    assert.equal(resumed.status, 'awaiting_review', resumed.reason ?? '');
    const items = itemsByKey(resumed);
    const tickets = restarted.services.tickets;
    assert.equal((await tickets.get('alice', items.first?.ticket ?? '')).attempt, 1);
    assert.equal((await tickets.get('alice', items.second?.ticket ?? '')).attempt, 2);
    assert.equal(first.prompts().length, firstPrompts, 'the finished ticket never ran again');
    const notices: string[] = [];
    for await (const event of restarted.services.plans.events('alice', created.id)) {
      if (event.data.type === 'notice') notices.push(event.data.message);
    }
    assert.deepEqual(notices, [
      `ticket second (${items.second?.ticket}) was running when the server stopped: it runs again`,
    ]);
  });

  test('a plan budget spent: its running ticket is stopped and the plan fails with the reason', async () => {
    const plans = bed.running.services.plans;
    // Never finishes: each step costs $0.0003 (100 tokens in, 20 out at $1 and $10 a million).
    const endless = bed.model(() => call('run_command', { command: 'true' }));
    const created = await plans.create(
      'alice',
      CreatePlanBodySchema.parse({
        project: 'notes',
        request: 'spend',
        auto: true,
        budget: { maxCostUsd: 0.0005 },
        spec: { summary: 'spends', tickets: [ticketSpec('spend', endless.id)] },
      }),
    );
    const failed = await plans.wait('alice', created.id);
    assert.equal(failed.status, 'failed');
    assert.match(failed.reason ?? '', /^plan budget: \$0\.000\d of \$0\.0005 spent$/);
    const ticketId = failed.tickets[0]?.ticket ?? '';
    const tickets = bed.running.services.tickets;
    await until('the ticket stopped', async () => {
      const ticket = await tickets.get('alice', ticketId);
      return ticket.status === 'stopped';
    });
    assert.match((await tickets.get('alice', ticketId)).reason ?? '', /plan budget/);
  });

  test('a cycle is refused by an edit; another owner sees a 404; approval in the wrong status is a 409', async () => {
    const plans = bed.running.services.plans;
    const model = bed.model(writesFile('k'));
    const draft = await plans.create(
      'alice',
      CreatePlanBodySchema.parse({
        project: 'notes',
        request: 'a draft',
        spec: { summary: 'draft', tickets: [ticketSpec('k', model.id)] },
      }),
    );
    assert.equal(draft.status, 'draft');
    const cycle = PlanSpecSchema.parse({
      summary: 'a cycle',
      tickets: [
        ticketSpec('k', model.id, { dependsOn: ['l'] }),
        ticketSpec('l', model.id, { dependsOn: ['k'] }),
      ],
    });
    await assert.rejects(plans.editSpec('alice', draft.id, cycle), (error: Error) => {
      assert.equal((error as { code?: string }).code, 'plan_graph');
      assert.match(error.message, /cycle: k → l → k/);
      return true;
    });
    assert.equal((await plans.get('alice', draft.id)).tickets.length, 1, 'nothing changed');
    await assert.rejects(plans.get('bob', draft.id), { code: 'plan_not_found' });
    await assert.rejects(plans.approve('bob', draft.id, { by: 'bob' }), {
      code: 'plan_not_found',
    });
    await assert.rejects(plans.evidence('alice', draft.id), { code: 'plan_evidence_not_found' });
    await assert.rejects(plans.retry('alice', draft.id, { ticket: 'k' }), { code: 'plan_status' });
    const closed = await plans.close('alice', draft.id, { by: 'alice' });
    assert.equal(closed.status, 'closed');
    await assert.rejects(plans.approve('alice', draft.id, { by: 'alice' }), (error: Error) => {
      assert.equal((error as { code?: string }).code, 'plan_status');
      assert.match(error.message, /it is closed \(allowed when it is draft or awaiting_review\)/);
      return true;
    });
  });
});
