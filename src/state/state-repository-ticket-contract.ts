import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { Evidence } from '../api/tickets.ts';
import { evidenceRecord, projectRecord, ticketRecord } from './record-fixtures.ts';
import type { ProjectRecord, StateRepository, TicketRecord } from './state-repository.ts';

type ContractTest = (title: string, body: (t: TestContext) => Promise<void>) => void;

/**
 * The projects-and-tickets part of the state contract (`runStateRepositoryContract` calls it),
 * kept apart so each file stays small. Owners here (`pat`, `quinn`, ...) are used by no other
 * test of the suite, which shares one repository.
 */
export function ticketStateContract(test: ContractTest, repository: () => StateRepository): void {
  test('projects are per owner: another owner does not find, list or update them', async () => {
    const state = repository();
    await state.insertProject(project('pat', 'webapp'));
    await state.insertProject(project('pat', 'api'));
    await state.insertProject(
      project('quinn', 'webapp', { repo: 'https://example.com/quinn.git', network: true }),
    );
    assert.deepEqual(
      (await state.listProjects('pat')).map((record) => record.name),
      ['api', 'webapp'],
    );
    const quinns = await state.getProject('quinn', 'webapp');
    assert.deepEqual([quinns?.repo, quinns?.network], ['https://example.com/quinn.git', true]);
    assert.equal((await state.getProject('pat', 'webapp'))?.network, false);
    assert.equal(await state.getProject('rosa', 'webapp'), undefined);
    await state.updateProject('pat', 'webapp', {
      status: 'failed',
      reason: 'setup exited with code 1',
      commit: 'abc123',
      config: { test: 'npm test', roles: { developer: { systemPrompt: 'Be brief.' } } },
      setup: null,
      updatedAt: 'later',
    });
    const updated = await state.getProject('pat', 'webapp');
    assert.deepEqual(
      [updated?.status, updated?.reason, updated?.commit, updated?.setup, updated?.updatedAt],
      ['failed', 'setup exited with code 1', 'abc123', null, 'later'],
    );
    assert.deepEqual(updated?.config.roles?.developer, { systemPrompt: 'Be brief.' });
    assert.equal(updated?.test, 'npm test', 'fields not in the update stay as they were');
    const other = await state.getProject('quinn', 'webapp');
    assert.deepEqual([other?.status, other?.commit], ['ready', null]);
    await state.insertProject(project('quinn', 'stuck', { status: 'importing' }));
    const importing = await state.projectsInStatus(['importing']);
    assert.deepEqual(
      importing
        .filter((record) => ['pat', 'quinn'].includes(record.owner))
        .map((record) => record.name),
      ['stuck'],
    );
    assert.ok(importing.every((record) => record.status === 'importing'));
  });

  test('tickets are per owner and listed newest first, by project and by status', async () => {
    const state = repository();
    await state.insertTicket(ticket('tkt_pat1', 'pat', 'webapp'));
    await state.insertTicket(ticket('tkt_pat2', 'pat', 'api', { status: 'queued' }));
    await state.insertTicket(ticket('tkt_pat3', 'pat', 'webapp', { status: 'queued' }));
    await state.insertTicket(ticket('tkt_quinn1', 'quinn', 'webapp', { status: 'queued' }));
    assert.equal((await state.getTicket('pat', 'tkt_pat1'))?.title, 'Fix tkt_pat1');
    assert.equal(await state.getTicket('quinn', 'tkt_pat1'), undefined);
    const ids = async (filter: Parameters<StateRepository['listTickets']>[0]) =>
      (await state.listTickets(filter)).map((record) => record.id);
    assert.deepEqual(await ids({ owner: 'pat' }), ['tkt_pat3', 'tkt_pat2', 'tkt_pat1']);
    assert.deepEqual(await ids({ owner: 'pat', project: 'webapp' }), ['tkt_pat3', 'tkt_pat1']);
    assert.deepEqual(await ids({ owner: 'pat', status: 'queued' }), ['tkt_pat3', 'tkt_pat2']);
    assert.deepEqual(await ids({ owner: 'pat', project: 'webapp', status: 'draft' }), ['tkt_pat1']);
    assert.deepEqual(await ids({ owner: 'quinn' }), ['tkt_quinn1']);
  });

  test('ticket updates persist, JSON fields round-trip, and other tickets are untouched', async () => {
    const state = repository();
    await state.insertTicket(ticket('tkt_upd1', 'sam', 'webapp'));
    await state.insertTicket(ticket('tkt_upd2', 'sam', 'webapp'));
    const history = [{ role: 'user', content: [{ type: 'text', text: 'ünïcode "quoted"' }] }];
    await state.updateTicket('tkt_upd1', {
      status: 'running',
      attempt: 1,
      workspace: 'tkt_upd1-0f3c',
      baseCommit: 'c0ffee',
      usage: { inputTokens: 10, outputTokens: 5, costUsd: 0.25, steps: 2 },
      history,
      commentsDeliveredThrough: 12,
      host: 'h1',
      server: 's1',
      budget: { maxSteps: 7 },
    });
    const stored = await state.getTicket('sam', 'tkt_upd1');
    assert.deepEqual(
      [stored?.status, stored?.attempt, stored?.workspace, stored?.baseCommit, stored?.host],
      ['running', 1, 'tkt_upd1-0f3c', 'c0ffee', 'h1'],
    );
    assert.deepEqual(stored?.usage, { inputTokens: 10, outputTokens: 5, costUsd: 0.25, steps: 2 });
    assert.deepEqual(stored?.history, history);
    assert.equal(stored?.commentsDeliveredThrough, 12);
    assert.deepEqual(stored?.budget, { maxSteps: 7 });
    assert.deepEqual(stored?.criteria, ticket('x', 'sam', 'webapp').criteria);
    assert.equal((await state.getTicket('sam', 'tkt_upd2'))?.status, 'draft');
  });

  test('ticketsInStatus finds every owner’s tickets in those statuses', async () => {
    const state = repository();
    await state.insertTicket(ticket('tkt_run_a', 'tess', 'webapp', { status: 'running' }));
    await state.insertTicket(ticket('tkt_run_b', 'uma', 'webapp', { status: 'running' }));
    await state.insertTicket(ticket('tkt_queue_c', 'uma', 'webapp', { status: 'queued' }));
    await state.insertTicket(ticket('tkt_done_d', 'uma', 'webapp', { status: 'approved' }));
    const found = (await state.ticketsInStatus(['running', 'queued'])).map((record) => record.id);
    for (const id of ['tkt_run_a', 'tkt_run_b', 'tkt_queue_c']) assert.ok(found.includes(id), id);
    assert.ok(!found.includes('tkt_done_d'));
    assert.ok(!found.includes('tkt_pat1'), 'a draft is not running');
    assert.deepEqual(await state.ticketsInStatus([]), []);
  });

  test('event ids increase from 1 per ticket and reading resumes after an id', async () => {
    const state = repository();
    const at = new Date().toISOString();
    const appended = [];
    for (let index = 0; index < 5; index++) {
      appended.push(
        await state.appendTicketEvent('tkt_ev1', {
          attempt: 1,
          at,
          data: { type: 'text', step: index, text: `delta ${index}` },
        }),
      );
    }
    // Another ticket's events count on their own.
    const other = await state.appendTicketEvent('tkt_ev2', {
      attempt: 1,
      at,
      data: { type: 'comment', author: 'pat', text: 'hi' },
    });
    assert.deepEqual(
      appended.map((event) => event.id),
      [1, 2, 3, 4, 5],
    );
    assert.equal(other.id, 1);
    // Appends at once still get distinct, consecutive ids.
    const concurrent = await Promise.all(
      [0, 1, 2].map((step) =>
        state.appendTicketEvent('tkt_ev1', {
          attempt: 2,
          at,
          data: { type: 'status', from: null, to: 'running', reason: `r${step}` },
        }),
      ),
    );
    assert.deepEqual(concurrent.map((event) => event.id).sort(), [6, 7, 8]);
    const all = await state.readTicketEvents('tkt_ev1', 0, 100);
    assert.deepEqual(
      all.map((event) => event.id),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.deepEqual(all[2], {
      id: 3,
      attempt: 1,
      at,
      data: { type: 'text', step: 2, text: 'delta 2' },
    });
    assert.deepEqual(
      (await state.readTicketEvents('tkt_ev1', 3, 2)).map((event) => event.id),
      [4, 5],
    );
    assert.deepEqual(await state.readTicketEvents('tkt_ev1', 8, 10), []);
    assert.deepEqual(
      (await state.readTicketEvents('tkt_ev2', 0, 10)).map((event) => event.data.type),
      ['comment'],
    );
  });

  test('evidence is kept per attempt, the latest by default, and replaced per attempt', async () => {
    const state = repository();
    assert.equal(await state.getEvidence('tkt_evd'), undefined);
    await state.putEvidence(evidence('tkt_evd', 1, 'first try'));
    await state.putEvidence(evidence('tkt_evd', 2, 'second try'));
    assert.equal((await state.getEvidence('tkt_evd'))?.summary, 'second try');
    assert.equal((await state.getEvidence('tkt_evd', 1))?.summary, 'first try');
    assert.equal(await state.getEvidence('tkt_evd', 3), undefined);
    await state.putEvidence(evidence('tkt_evd', 1, 'first try, again'));
    assert.equal((await state.getEvidence('tkt_evd', 1))?.summary, 'first try, again');
    assert.deepEqual(await state.getEvidence('tkt_evd', 2), evidence('tkt_evd', 2, 'second try'));
  });

  test('bundles round-trip their bytes and are replaced', async () => {
    const state = repository();
    assert.equal(await state.getTicketBundle('tkt_bundle'), undefined);
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0]);
    await state.putTicketBundle('tkt_bundle', bytes);
    assert.deepEqual(await state.getTicketBundle('tkt_bundle'), bytes);
    await state.putTicketBundle('tkt_bundle', Buffer.from('again'));
    assert.equal((await state.getTicketBundle('tkt_bundle'))?.toString(), 'again');
  });

  test('deleting a project removes its tickets, their events, evidence and bundles only', async () => {
    const state = repository();
    const at = new Date().toISOString();
    await state.insertProject(project('vera', 'doomed'));
    await state.insertProject(project('vera', 'kept'));
    await state.insertProject(project('walt', 'doomed'));
    const fill = async (id: string, owner: string, name: string) => {
      await state.insertTicket(ticket(id, owner, name));
      await state.appendTicketEvent(id, {
        attempt: 1,
        at,
        data: { type: 'comment', author: owner, text: 'x' },
      });
      await state.putEvidence(evidence(id, 1, 'done'));
      await state.putTicketBundle(id, Buffer.from(id));
    };
    await fill('tkt_doomed', 'vera', 'doomed');
    await fill('tkt_kept', 'vera', 'kept');
    await fill('tkt_walt', 'walt', 'doomed');
    await state.deleteProject('vera', 'doomed');
    assert.equal(await state.getProject('vera', 'doomed'), undefined);
    assert.equal(await state.getTicket('vera', 'tkt_doomed'), undefined);
    assert.deepEqual(await state.readTicketEvents('tkt_doomed', 0, 10), []);
    assert.equal(await state.getEvidence('tkt_doomed'), undefined);
    assert.equal(await state.getTicketBundle('tkt_doomed'), undefined);
    // The same owner's other project and another owner's project of the same name stay whole.
    for (const [owner, id, name] of [
      ['vera', 'tkt_kept', 'kept'],
      ['walt', 'tkt_walt', 'doomed'],
    ] as const) {
      assert.ok(await state.getProject(owner, name), `${owner}/${name}`);
      assert.ok(await state.getTicket(owner, id), id);
      assert.equal((await state.readTicketEvents(id, 0, 10)).length, 1, id);
      assert.ok(await state.getEvidence(id), id);
      assert.ok(await state.getTicketBundle(id), id);
    }
    // An event appended after the deletion starts again from 1: nothing of the old ticket left.
    const fresh = await state.appendTicketEvent('tkt_doomed', {
      attempt: 1,
      at,
      data: { type: 'comment', author: 'vera', text: 'again' },
    });
    assert.equal(fresh.id, 1);
  });

  test('events and JSON fields keep every character: NUL, control, quotes, astral', async () => {
    const state = repository();
    // Command output in an event may hold any of these (PostgreSQL's JSONB would refuse \u0000).
    const text = 'a\u0000b\u0001\n"\\ 😀 \u2028 ünï';
    const event = await state.appendTicketEvent('tkt_chars', {
      attempt: 1,
      at: 'now',
      data: { type: 'comment', author: 'xena', text },
    });
    assert.deepEqual(await state.readTicketEvents('tkt_chars', 0, 10), [event]);
    await state.insertTicket(ticket('tkt_chars', 'xena', 'webapp'));
    await state.updateTicket('tkt_chars', { history: [{ role: 'tool', content: text }] });
    const stored = await state.getTicket('xena', 'tkt_chars');
    assert.deepEqual(stored?.history, [{ role: 'tool', content: text }]);
  });
}

/** The contract's project: with a setup, a test command and a model. */
function project(
  owner: string,
  name: string,
  overrides: Partial<ProjectRecord> = {},
): ProjectRecord {
  return projectRecord(name, {
    owner,
    commit: null,
    setup: 'npm ci',
    test: 'npm test',
    model: 'anthropic:claude-sonnet-4-5',
    ...overrides,
  });
}

/** The contract's ticket: a checked criterion and one a person judges. */
function ticket(
  id: string,
  owner: string,
  projectName: string,
  overrides: Partial<TicketRecord> = {},
): TicketRecord {
  return ticketRecord(id, owner, projectName, {
    criteria: [{ text: 'tests pass', check: 'npm test' }, { text: 'readable' }],
    ...overrides,
  });
}

function evidence(ticketId: string, attempt: number, summary: string): Evidence {
  return evidenceRecord(ticketId, attempt, { summary });
}
