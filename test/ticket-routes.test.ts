/**
 * Ticket routes in-process (`app.request`, fake runtime) on projects that are not ready: a ticket
 * that would start work on one is a 409 naming the project's status and how to fix it, when it
 * is created with `run` or run, instead of an attempt that fails to fork it later; a draft may
 * wait for it. A project filter naming no project of the owner is a 404, not an empty list.
 * Nothing here runs an agent.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { projectRecord } from './helpers/project-record.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

let app: TestApp;
let alice: string;
let bob: string;

before(async () => {
  app = await createTestApp();
  alice = (await app.token('alice')).token;
  bob = (await app.token('bob')).token;
  const { repository } = app.services;
  await repository.insertProject(projectRecord('app', {}));
  await repository.insertProject(
    projectRecord('broken', { status: 'failed', commit: null, reason: 'setup exited 1' }),
  );
  await repository.insertProject(projectRecord('loading', { status: 'importing', commit: null }));
});
after(() => app.close());

// A provider that needs no key: the model check passes, the project's is the one that counts.
const ticketBody = (projectName: string, extra: Record<string, unknown> = {}) => ({
  project: projectName,
  title: 'Fix it',
  request: 'Fix it.',
  criteria: [{ text: 'fixed' }],
  model: 'ollama:qwen3',
  ...extra,
});

const errorOf = async (response: Response) =>
  ((await response.json()) as { error: { code: string; message: string; hint: string } }).error;

const ticketsOf = async (projectName: string) =>
  (
    (await (await app.request(alice, 'GET', `/v1/tickets?project=${projectName}`)).json()) as {
      tickets: { id: string; status: string }[];
    }
  ).tickets;

test('a ticket created with run on a failed or importing project is a 409 naming its status; nothing is stored', async () => {
  const failed = await app.request(
    alice,
    'POST',
    '/v1/tickets',
    ticketBody('broken', { run: true }),
  );
  assert.equal(failed.status, 409);
  const error = await errorOf(failed);
  assert.equal(error.code, 'project_not_ready');
  assert.match(error.message, /^Project broken is not ready \(failed\)/);
  assert.match(error.hint, /mags project refresh broken/);
  assert.match(error.hint, /as a draft/);
  assert.deepEqual(await ticketsOf('broken'), []);

  const importing = await app.request(
    alice,
    'POST',
    '/v1/tickets',
    ticketBody('loading', { run: true }),
  );
  assert.equal(importing.status, 409);
  const importError = await errorOf(importing);
  assert.match(importError.message, /\(importing\)/);
  assert.match(importError.hint, /Wait for its import to finish/);
  assert.deepEqual(await ticketsOf('loading'), []);
});

test('a draft of a failed project is created; running it is a 409 with the fix, and it stays a draft', async () => {
  const created = await app.request(alice, 'POST', '/v1/tickets', ticketBody('broken'));
  assert.equal(created.status, 201);
  const draft = (await created.json()) as { id: string; status: string };
  assert.equal(draft.status, 'draft');
  const run = await app.request(alice, 'POST', `/v1/tickets/${draft.id}/run`);
  assert.equal(run.status, 409);
  const error = await errorOf(run);
  assert.equal(error.code, 'project_not_ready');
  assert.match(error.message, /\(failed\)/);
  assert.match(error.hint, /mags project refresh broken/);
  assert.match(error.hint, new RegExp(`mags ticket run ${draft.id}`));
  assert.deepEqual(
    (await ticketsOf('broken')).map((ticket) => [ticket.id, ticket.status]),
    [[draft.id, 'draft']],
  );
  const events = await app.services.repository.readTicketEvents(draft.id, 0, 100);
  assert.deepEqual(
    events.map((event) => (event.data.type === 'status' ? event.data.to : event.data.type)),
    ['draft'],
  );
});

test("a project filter naming no project of the owner's is a 404", async () => {
  const missing = await app.request(alice, 'GET', '/v1/tickets?project=nope');
  assert.equal(missing.status, 404);
  assert.equal((await errorOf(missing)).code, 'project_not_found');
  // Another owner's project is not theirs either.
  const others = await app.request(bob, 'GET', '/v1/tickets?project=app');
  assert.equal(others.status, 404);
  const own = await app.request(alice, 'GET', '/v1/tickets?project=app');
  assert.equal(own.status, 200);
  assert.deepEqual(await own.json(), { tickets: [] });
  assert.equal((await app.request(alice, 'GET', '/v1/tickets')).status, 200);
});

test('a title or request with a NUL character is a 400 naming the field, on every state backend; nothing is stored', async () => {
  for (const field of ['title', 'request'] as const) {
    const response = await app.request(
      alice,
      'POST',
      '/v1/tickets',
      ticketBody('app', { [field]: 'Fix\u0000it' }),
    );
    assert.equal(response.status, 400, field);
    const error = await errorOf(response);
    assert.match(`${error.message} ${error.hint}`, new RegExp(`${field}.*NUL`, 's'), field);
  }
  const plan = await app.request(alice, 'POST', '/v1/plans', {
    project: 'app',
    request: 'Split\u0000it',
  });
  assert.equal(plan.status, 400);
  assert.match((await errorOf(plan)).message, /request.*NUL/s);
  assert.deepEqual(await ticketsOf('app'), []);
});
