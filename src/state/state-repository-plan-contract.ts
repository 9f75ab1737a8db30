import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { PlanEvidence, PlanTicket } from '../api/plans.ts';
import { planRecord, planTicketItem, projectRecord, ticketRecord } from './record-fixtures.ts';
import type { ProjectRecord, StateRepository } from './state-repository.ts';

type ContractTest = (title: string, body: (t: TestContext) => Promise<void>) => void;

/**
 * The plans part of the state contract (`runStateRepositoryContract` calls it). Owners here
 * (`pia`, `pom`, ...) and plan ids (`pln_c…`) are used by no other test of the suite, which
 * shares one repository.
 */
export function planStateContract(test: ContractTest, repository: () => StateRepository): void {
  test('plans are per owner and listed newest first, by project and by status', async () => {
    const state = repository();
    await state.insertPlan(planRecord('pln_cA1', 'pia', 'webapp'));
    await state.insertPlan(planRecord('pln_cA2', 'pia', 'api', { status: 'running' }));
    await state.insertPlan(planRecord('pln_cA3', 'pia', 'webapp', { status: 'running' }));
    await state.insertPlan(planRecord('pln_cB1', 'pom', 'webapp', { status: 'running' }));
    assert.deepEqual(await state.getPlan('pia', 'pln_cA1'), planRecord('pln_cA1', 'pia', 'webapp'));
    assert.equal(await state.getPlan('pom', 'pln_cA1'), undefined, 'another owner’s plan');
    assert.equal(await state.getPlan('pia', 'pln_cNone'), undefined);
    const ids = async (filter: Parameters<StateRepository['listPlans']>[0]) =>
      (await state.listPlans(filter)).map((record) => record.id);
    assert.deepEqual(await ids({ owner: 'pia' }), ['pln_cA3', 'pln_cA2', 'pln_cA1']);
    assert.deepEqual(await ids({ owner: 'pia', project: 'webapp' }), ['pln_cA3', 'pln_cA1']);
    assert.deepEqual(await ids({ owner: 'pia', status: 'running' }), ['pln_cA3', 'pln_cA2']);
    assert.deepEqual(await ids({ owner: 'pia', project: 'webapp', status: 'draft' }), ['pln_cA1']);
    assert.deepEqual(await ids({ owner: 'pia', project: 'nothing' }), []);
    assert.deepEqual(await ids({ owner: 'pom' }), ['pln_cB1']);
    assert.deepEqual(await ids({ owner: 'nobody' }), []);
  });

  test('a plan’s every field updates and round-trips; other plans are untouched', async () => {
    const state = repository();
    await state.insertPlan(planRecord('pln_cU1', 'quill', 'webapp'));
    await state.insertPlan(planRecord('pln_cU2', 'quill', 'webapp'));
    const tickets: PlanTicket[] = [
      planTicketItem('api', { state: 'dispatched', ticket: 'tkt_cU1', ticketStatus: 'running' }),
      planTicketItem('ui', {
        dependsOn: ['api'],
        state: 'conflict',
        reason: 'ünïcode "quoted" reason',
        conflictFiles: ['src/a.ts', 'src/b.ts'],
        budget: { maxSteps: 9, maxCostUsd: 0.5 },
        role: 'tester',
        model: 'openai:gpt-5',
      }),
    ];
    const update = {
      request: 'A new request',
      summary: 'Now a summary',
      status: 'awaiting_review',
      reason: 'waiting for a person',
      model: 'openai:gpt-5',
      auto: true,
      autoApprove: true,
      maxParallel: 7,
      budget: { maxTokens: 5000, maxCostUsd: 2.5, maxWallMs: 60_000 },
      usage: { inputTokens: 11, outputTokens: 7, costUsd: 0.125, steps: 3 },
      tickets,
      baseCommit: 'c0ffee',
      integration: { workspace: 'pln_cU1-integration', commit: 'beef', tree: null },
      branch: 'mags/plan-pln_cU1',
      commit: 'f00d',
      approvedAt: '2026-01-02T03:04:05.000Z',
      host: 'host-1',
      server: 'server-1',
      updatedAt: 'later',
    } satisfies Parameters<StateRepository['updatePlan']>[1];
    await state.updatePlan('pln_cU1', update);
    const stored = await state.getPlan('quill', 'pln_cU1');
    assert.deepEqual(stored, { ...planRecord('pln_cU1', 'quill', 'webapp'), ...update });
    assert.deepEqual(
      await state.getPlan('quill', 'pln_cU2'),
      planRecord('pln_cU2', 'quill', 'webapp'),
      'the other plan is as it was',
    );
    // Back again: booleans off, nullable fields null (integration included), a partial update.
    await state.updatePlan('pln_cU1', {
      auto: false,
      autoApprove: false,
      integration: null,
      summary: null,
      reason: null,
      host: null,
      server: null,
    });
    const back = await state.getPlan('quill', 'pln_cU1');
    assert.deepEqual(
      [back?.auto, back?.autoApprove, back?.integration, back?.summary, back?.reason],
      [false, false, null, null, null],
    );
    assert.deepEqual([back?.host, back?.server], [null, null]);
    assert.deepEqual(back?.tickets, tickets, 'fields not in the update stay as they were');
    assert.equal(back?.maxParallel, 7);
    // An empty update changes nothing.
    await state.updatePlan('pln_cU1', {});
    assert.deepEqual(await state.getPlan('quill', 'pln_cU1'), back);
  });

  test('plansInStatus finds every owner’s plans in those statuses', async () => {
    const state = repository();
    await state.insertPlan(planRecord('pln_cS1', 'rhea', 'webapp', { status: 'planning' }));
    await state.insertPlan(planRecord('pln_cS2', 'saul', 'webapp', { status: 'integrating' }));
    await state.insertPlan(planRecord('pln_cS3', 'saul', 'webapp', { status: 'approved' }));
    const found = (await state.plansInStatus(['planning', 'integrating'])).map(
      (record) => record.id,
    );
    for (const id of ['pln_cS1', 'pln_cS2']) assert.ok(found.includes(id), id);
    assert.ok(!found.includes('pln_cS3'));
    assert.ok(!found.includes('pln_cA1'), 'a draft is not planning');
    assert.ok(
      (await state.plansInStatus(['planning', 'integrating'])).every((record) =>
        ['planning', 'integrating'].includes(record.status),
      ),
    );
    assert.deepEqual(await state.plansInStatus([]), []);
  });

  test('plan event ids increase from 1 per plan, never repeat, and reading resumes after an id', async () => {
    const state = repository();
    const at = new Date().toISOString();
    const appended = [];
    for (let index = 1; index <= 4; index++) {
      appended.push(
        await state.appendPlanEvent('pln_cE1', {
          at,
          data: { type: 'planner', attempt: index, accepted: index === 4, message: `try ${index}` },
        }),
      );
    }
    const other = await state.appendPlanEvent('pln_cE2', {
      at,
      data: { type: 'notice', message: 'hello' },
    });
    assert.deepEqual(
      appended.map((event) => event.id),
      [1, 2, 3, 4],
    );
    assert.equal(other.id, 1, 'another plan’s events count on their own');
    const concurrent = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        state.appendPlanEvent('pln_cE1', {
          at,
          data: {
            type: 'ticket_state',
            key: `t${index}`,
            ticket: null,
            from: 'pending',
            to: 'waiting',
            reason: null,
          },
        }),
      ),
    );
    assert.deepEqual(
      concurrent.map((event) => event.id).sort((a, b) => a - b),
      [5, 6, 7, 8, 9, 10, 11, 12],
    );
    const all = await state.readPlanEvents('pln_cE1', 0, 100);
    assert.deepEqual(
      all.map((event) => event.id),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    assert.deepEqual(all[1], {
      id: 2,
      at,
      data: { type: 'planner', attempt: 2, accepted: false, message: 'try 2' },
    });
    assert.deepEqual(
      (await state.readPlanEvents('pln_cE1', 3, 2)).map((event) => event.id),
      [4, 5],
    );
    assert.deepEqual(await state.readPlanEvents('pln_cE1', 12, 10), []);
    assert.deepEqual(await state.readPlanEvents('pln_cNone', 0, 10), []);
    assert.equal(await state.lastPlanEventId('pln_cE1'), 12);
    assert.equal(await state.lastPlanEventId('pln_cNone'), 0);
    // A ticket's own event nested in a plan event round-trips whole.
    const nested = await state.appendPlanEvent('pln_cE2', {
      at,
      data: {
        type: 'ticket_event',
        key: 'api',
        ticket: 'tkt_cE',
        event: { id: 3, attempt: 1, at, data: { type: 'text', step: 1, text: 'hi "there"' } },
      },
    });
    assert.deepEqual((await state.readPlanEvents('pln_cE2', 1, 10))[0], nested);
  });

  test('plan evidence and bundles are stored, replaced and kept apart per plan', async () => {
    const state = repository();
    assert.equal(await state.getPlanEvidence('pln_cV1'), undefined);
    await state.putPlanEvidence(planEvidence('pln_cV1', 'first'));
    await state.putPlanEvidence(planEvidence('pln_cV2', 'other'));
    assert.deepEqual(await state.getPlanEvidence('pln_cV1'), planEvidence('pln_cV1', 'first'));
    await state.putPlanEvidence(planEvidence('pln_cV1', 'second'));
    assert.equal((await state.getPlanEvidence('pln_cV1'))?.commit, 'second');
    assert.equal((await state.getPlanEvidence('pln_cV2'))?.commit, 'other');

    assert.equal(await state.getPlanBundle('pln_cV1'), undefined);
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0]);
    await state.putPlanBundle('pln_cV1', bytes);
    await state.putPlanBundle('pln_cV2', Buffer.from('two'));
    assert.deepEqual(await state.getPlanBundle('pln_cV1'), bytes);
    await state.putPlanBundle('pln_cV1', Buffer.from('again'));
    assert.equal((await state.getPlanBundle('pln_cV1'))?.toString(), 'again');
    assert.equal((await state.getPlanBundle('pln_cV2'))?.toString(), 'two');
  });

  test('tickets record their plan, listTickets filters by it, and an update moves it', async () => {
    const state = repository();
    await state.insertTicket(ticket('tkt_cP1', 'tove', 'webapp', { plan: 'pln_cP' }));
    await state.insertTicket(ticket('tkt_cP2', 'tove', 'webapp', { plan: 'pln_cP' }));
    await state.insertTicket(ticket('tkt_cP3', 'tove', 'webapp'));
    await state.insertTicket(ticket('tkt_cP4', 'ugo', 'webapp', { plan: 'pln_cP' }));
    assert.equal((await state.getTicket('tove', 'tkt_cP1'))?.plan, 'pln_cP');
    assert.equal((await state.getTicket('tove', 'tkt_cP3'))?.plan, null);
    const ids = async (filter: Parameters<StateRepository['listTickets']>[0]) =>
      (await state.listTickets(filter)).map((record) => record.id);
    assert.deepEqual(await ids({ owner: 'tove', plan: 'pln_cP' }), ['tkt_cP2', 'tkt_cP1']);
    assert.deepEqual(await ids({ owner: 'ugo', plan: 'pln_cP' }), ['tkt_cP4'], 'per owner');
    assert.deepEqual(await ids({ owner: 'tove', plan: 'pln_cP', status: 'queued' }), []);
    assert.deepEqual(await ids({ owner: 'tove' }), ['tkt_cP3', 'tkt_cP2', 'tkt_cP1']);
    await state.updateTicket('tkt_cP3', { plan: 'pln_cP', status: 'queued' });
    assert.deepEqual(await ids({ owner: 'tove', plan: 'pln_cP', status: 'queued' }), ['tkt_cP3']);
    await state.updateTicket('tkt_cP1', { plan: null });
    assert.deepEqual(await ids({ owner: 'tove', plan: 'pln_cP' }), ['tkt_cP3', 'tkt_cP2']);
  });

  test('deleting a project removes its plans with their events, evidence and bundles only', async () => {
    const state = repository();
    const at = new Date().toISOString();
    await state.insertProject(project('vic', 'doomed'));
    await state.insertProject(project('vic', 'kept'));
    await state.insertProject(project('wes', 'doomed'));
    const fill = async (id: string, owner: string, name: string) => {
      await state.insertPlan(planRecord(id, owner, name));
      await state.insertTicket(ticket(`tkt_${id}`, owner, name, { plan: id }));
      await state.appendPlanEvent(id, { at, data: { type: 'notice', message: id } });
      await state.putPlanEvidence(planEvidence(id, 'c'));
      await state.putPlanBundle(id, Buffer.from(id));
    };
    await fill('pln_cDoomed', 'vic', 'doomed');
    await fill('pln_cKept', 'vic', 'kept');
    await fill('pln_cWes', 'wes', 'doomed');
    await state.deleteProject('vic', 'doomed');
    assert.equal(await state.getPlan('vic', 'pln_cDoomed'), undefined);
    assert.deepEqual(await state.listPlans({ owner: 'vic', project: 'doomed' }), []);
    assert.equal(await state.getTicket('vic', 'tkt_pln_cDoomed'), undefined);
    assert.deepEqual(await state.readPlanEvents('pln_cDoomed', 0, 10), []);
    assert.equal(await state.getPlanEvidence('pln_cDoomed'), undefined);
    assert.equal(await state.getPlanBundle('pln_cDoomed'), undefined);
    for (const [owner, id] of [
      ['vic', 'pln_cKept'],
      ['wes', 'pln_cWes'],
    ] as const) {
      assert.ok(await state.getPlan(owner, id), id);
      assert.ok(await state.getTicket(owner, `tkt_${id}`), id);
      assert.equal((await state.readPlanEvents(id, 0, 10)).length, 1, id);
      assert.ok(await state.getPlanEvidence(id), id);
      assert.ok(await state.getPlanBundle(id), id);
    }
    const fresh = await state.appendPlanEvent('pln_cDoomed', {
      at,
      data: { type: 'notice', message: 'again' },
    });
    assert.equal(fresh.id, 1, 'nothing of the deleted plan’s events is left');
  });
}

function planEvidence(planId: string, commit: string): PlanEvidence {
  return {
    plan: planId,
    baseCommit: 'c0ffee',
    commit,
    tree: null,
    mergeOrder: ['api', 'ui'],
    diff: '--- a/x\n+++ b/x\n',
    diffStat: { files: [{ path: 'x', added: 1, removed: 0, binary: false }] },
    tests: null,
    tickets: [
      {
        key: 'api',
        ticket: 'tkt_api',
        title: 'API',
        commit: 'abc',
        criteria: [],
        usage: { inputTokens: 1, outputTokens: 1, costUsd: 0, steps: 1 },
      },
    ],
    usage: { inputTokens: 1, outputTokens: 1, costUsd: 0, steps: 1 },
    startedAt: 'then',
    finishedAt: 'now',
    durationMs: 5,
  };
}

function project(owner: string, name: string): ProjectRecord {
  return projectRecord(name, { owner, commit: null, test: 'npm test' });
}

const ticket = ticketRecord;
