/**
 * Plan routes in-process (`app.request`, fake runtime, a stored project): every route with a plan
 * written by hand (no planner, no agent runs here), another owner's plan a 404 on each, bodies
 * refused with the field's path, actions the status does not allow a 409, the events as
 * Server-Sent Events (stored, and followed resumed from Last-Event-ID), a stale `ifUpdatedAt` a 409,
 * and the OpenAPI document listing them.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Plan, PlanEvent, PlanSpec } from '../src/api/plans.ts';
import { projectRecord } from './helpers/project-record.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

let app: TestApp;
let alice: string;
let bob: string;

before(async () => {
  app = await createTestApp();
  alice = (await app.token('alice')).token;
  bob = (await app.token('bob')).token;
  await app.services.repository.insertProject(projectRecord('app', {}));
  await app.services.repository.insertProject(projectRecord('app', { owner: 'bob' }));
});
after(() => app.close());

// A provider that needs no key: what is checked is the plan, not the model's key.
const spec = (): PlanSpec => ({
  summary: 'Users: schema then API',
  tickets: [
    {
      key: 'schema',
      title: 'Users table',
      request: 'Add a users table.',
      criteria: [{ text: 'migrates', check: 'true' }],
      model: 'ollama:qwen3',
      dependsOn: [],
    },
    {
      key: 'api',
      title: 'Users API',
      request: 'GET /users.',
      criteria: [{ text: 'answers' }],
      model: 'ollama:qwen3',
      dependsOn: ['schema'],
    },
  ],
});

const errorOf = async (response: Response) =>
  ((await response.json()) as { error: { code: string; message: string; hint?: string } }).error;

async function createDraft(token = alice): Promise<Plan> {
  const response = await app.request(token, 'POST', '/v1/plans', {
    project: 'app',
    request: 'Add users',
    spec: spec(),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return (await response.json()) as Plan;
}

test('a plan written by hand is a draft at once; get and list show it, filtered by project and status', async () => {
  const plan = await createDraft();
  assert.match(plan.id, /^pln_/);
  assert.equal(plan.status, 'draft');
  assert.equal(plan.project, 'app');
  assert.deepEqual(
    plan.tickets.map((ticket) => [ticket.key, ticket.state, ticket.dependsOn]),
    [
      ['schema', 'pending', []],
      ['api', 'pending', ['schema']],
    ],
  );
  assert.equal('owner' in plan, false, 'the API view has no owner');

  const got = await app.request(alice, 'GET', `/v1/plans/${plan.id}`);
  assert.equal(got.status, 200);
  assert.equal(((await got.json()) as Plan).id, plan.id);
  const listed = (await (
    await app.request(alice, 'GET', '/v1/plans?project=app&status=draft')
  ).json()) as {
    plans: Plan[];
  };
  assert.ok(listed.plans.some((each) => each.id === plan.id));
  const running = (await (await app.request(alice, 'GET', '/v1/plans?status=running')).json()) as {
    plans: Plan[];
  };
  assert.equal(
    running.plans.some((each) => each.id === plan.id),
    false,
  );
});

test('bodies and queries are refused with the path of the field that is wrong; nothing is stored', async () => {
  const before = (await (await app.request(alice, 'GET', '/v1/plans')).json()) as { plans: Plan[] };
  const badKey = spec();
  (badKey.tickets[1] as { key: string }).key = 'Not A Key';
  const refused = await app.request(alice, 'POST', '/v1/plans', {
    project: 'app',
    request: 'Add users',
    spec: badKey,
  });
  assert.equal(refused.status, 400);
  const error = await errorOf(refused);
  assert.equal(error.code, 'invalid_input');
  assert.match(error.message, /body\.spec\.tickets\.1\.key: a ticket key is/);

  const noCriteria = await app.request(alice, 'POST', '/v1/plans', {
    project: 'app',
    request: 'x',
    maxParallel: 0,
  });
  assert.equal(noCriteria.status, 400);
  assert.match((await errorOf(noCriteria)).message, /body\.maxParallel:/);

  const unknownField = await app.request(alice, 'POST', '/v1/plans', {
    project: 'app',
    request: 'x',
    tickets: [],
  });
  assert.equal(unknownField.status, 400);

  const badStatus = await app.request(alice, 'GET', '/v1/plans?status=sleeping');
  assert.equal(badStatus.status, 400);
  assert.match((await errorOf(badStatus)).message, /query\.status:/);
  const badId = await app.request(alice, 'GET', '/v1/plans/not-a-plan');
  assert.equal(badId.status, 400);
  assert.match((await errorOf(badId)).message, /param\.id: not a plan id/);

  const after = (await (await app.request(alice, 'GET', '/v1/plans')).json()) as { plans: Plan[] };
  assert.equal(after.plans.length, before.plans.length);
});

test('a plan of a project that is not the owner’s is a 404, as is another owner’s plan on every route', async () => {
  const missing = await app.request(alice, 'POST', '/v1/plans', {
    project: 'nope',
    request: 'x',
    spec: spec(),
  });
  assert.equal(missing.status, 404);

  const plan = await createDraft();
  const routes: Array<[string, string, unknown?]> = [
    ['GET', `/v1/plans/${plan.id}`],
    ['PUT', `/v1/plans/${plan.id}/spec`, spec()],
    ['POST', `/v1/plans/${plan.id}/approve`],
    ['POST', `/v1/plans/${plan.id}/retry`, { ticket: 'schema' }],
    ['POST', `/v1/plans/${plan.id}/stop`],
    ['POST', `/v1/plans/${plan.id}/close`],
    ['GET', `/v1/plans/${plan.id}/events`],
    ['GET', `/v1/plans/${plan.id}/events?follow=true`],
    ['GET', `/v1/plans/${plan.id}/evidence`],
    ['GET', `/v1/plans/${plan.id}/bundle`],
  ];
  for (const [method, path, body] of routes) {
    const response = await app.request(bob, method, path, body);
    assert.equal(response.status, 404, `${method} ${path} for bob`);
  }
  const bobs = (await (await app.request(bob, 'GET', '/v1/plans')).json()) as { plans: Plan[] };
  assert.equal(
    bobs.plans.some((each) => each.id === plan.id),
    false,
  );
  // Untouched by bob's tries.
  const still = (await (await app.request(alice, 'GET', `/v1/plans/${plan.id}`)).json()) as Plan;
  assert.equal(still.status, 'draft');
  assert.equal((await app.request(undefined, 'GET', `/v1/plans/${plan.id}`)).status, 401);
});

test('a draft’s spec is replaced; a cycle or an unknown dependency is refused by name', async () => {
  const plan = await createDraft();
  const edited = spec();
  edited.tickets.push({
    key: 'docs',
    title: 'Docs',
    request: 'Document it.',
    criteria: [{ text: 'documented' }],
    model: 'ollama:qwen3',
    dependsOn: ['api'],
  });
  const put = await app.request(alice, 'PUT', `/v1/plans/${plan.id}/spec`, edited);
  assert.equal(put.status, 200, await put.clone().text());
  assert.deepEqual(
    ((await put.json()) as Plan).tickets.map((ticket) => ticket.key),
    ['schema', 'api', 'docs'],
  );

  const cycle = spec();
  (cycle.tickets[0] as { dependsOn: string[] }).dependsOn = ['api'];
  const refused = await app.request(alice, 'PUT', `/v1/plans/${plan.id}/spec`, cycle);
  assert.equal(refused.status, 400);
  assert.match(
    (await errorOf(refused)).message,
    /cycle: (schema → api → schema|api → schema → api)/,
  );

  const unknown = spec();
  (unknown.tickets[1] as { dependsOn: string[] }).dependsOn = ['ghost'];
  const unknownRefused = await app.request(alice, 'PUT', `/v1/plans/${plan.id}/spec`, unknown);
  assert.equal(unknownRefused.status, 400);
  assert.match((await errorOf(unknownRefused)).message, /ghost/);

  const badBody = await app.request(alice, 'PUT', `/v1/plans/${plan.id}/spec`, {
    summary: 'x',
    tickets: [{ key: 'a', title: 't', request: 'r', criteria: [] }],
  });
  assert.equal(badBody.status, 400);
  assert.match(
    (await errorOf(badBody)).message,
    /body\.tickets\.0\.criteria: a ticket needs at least one criterion/,
  );

  const stored = (await (await app.request(alice, 'GET', `/v1/plans/${plan.id}`)).json()) as Plan;
  assert.equal(stored.tickets.length, 3, 'the refused edits changed nothing');
});

test('actions the status does not allow are a 409 that says what is allowed; optional bodies are checked', async () => {
  const plan = await createDraft();
  const badApprove = await app.request(alice, 'POST', `/v1/plans/${plan.id}/approve`, {
    mesage: 'typo',
  });
  assert.equal(badApprove.status, 400);
  const badStop = await app.app.request(`/v1/plans/${plan.id}/stop`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
    body: '{not json',
  });
  assert.equal(badStop.status, 400);
  assert.match((await errorOf(badStop)).message, /JSON/);
  const noTicket = await app.request(alice, 'POST', `/v1/plans/${plan.id}/retry`, {});
  assert.equal(noTicket.status, 400);
  assert.match((await errorOf(noTicket)).message, /body\.ticket:/);

  const retryDraft = await app.request(alice, 'POST', `/v1/plans/${plan.id}/retry`, {
    ticket: 'schema',
  });
  assert.equal(retryDraft.status, 409);

  const closed = await app.request(alice, 'POST', `/v1/plans/${plan.id}/close`);
  assert.equal(closed.status, 200);
  assert.equal(((await closed.json()) as Plan).status, 'closed');
  const editClosed = await app.request(alice, 'PUT', `/v1/plans/${plan.id}/spec`, spec());
  assert.equal(editClosed.status, 409);
  const conflict = await errorOf(editClosed);
  assert.match(conflict.message, /closed/);
  const approveClosed = await app.request(alice, 'POST', `/v1/plans/${plan.id}/approve`);
  assert.equal(approveClosed.status, 409);

  // No evidence or bundle before the plan is integrated and approved: a 404 that says why.
  const evidence = await app.request(alice, 'GET', `/v1/plans/${plan.id}/evidence`);
  assert.equal(evidence.status, 404);
  const bundle = await app.request(alice, 'GET', `/v1/plans/${plan.id}/bundle`);
  assert.equal(bundle.status, 404);
});

test('events: SSE as a ticket’s, without follow the stored ones; with it, resumed after Last-Event-ID', async () => {
  const plan = await createDraft();
  assert.equal((await app.request(alice, 'POST', `/v1/plans/${plan.id}/close`)).status, 200);

  /** The events of a (non-followed) stream, and the plan its `end` event carries. */
  const read = async (path: string) => {
    const response = await app.request(alice, 'GET', path);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const text = await response.text();
    const events = [...text.matchAll(/^data: (.*)$/gm)].map((match) => JSON.parse(match[1] ?? ''));
    const end = events.pop() as Plan;
    return { events: events as PlanEvent[], end };
  };
  const { events, end: ended } = await read(`/v1/plans/${plan.id}/events`);
  assert.equal(ended.status, 'closed');
  assert.ok(events.length >= 2, 'at least the draft and the close');
  assert.deepEqual(
    events.map((event) => event.id),
    events.map((_, index) => index + 1),
  );
  const last = events.at(-1)?.data;
  assert.equal(last?.type === 'plan_status' && last.to, 'closed');
  const later = await read(`/v1/plans/${plan.id}/events?after=1`);
  assert.deepEqual(
    later.events.map((event) => event.id),
    events.slice(1).map((event) => event.id),
  );

  // A settled plan's stream has its stored events and ends with the plan.
  const stream = await app.app.request(`/v1/plans/${plan.id}/events?follow=true`, {
    headers: { authorization: `Bearer ${alice}`, 'last-event-id': '1' },
  });
  assert.equal(stream.status, 200);
  assert.equal(stream.headers.get('content-type'), 'text/event-stream');
  const text = await stream.text();
  const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
  assert.deepEqual(
    ids,
    events.slice(1).map((event) => event.id),
  );
  assert.match(text, /^event: plan_status$/m);
  const end = /^event: end\ndata: (.*)$/m.exec(text);
  assert.equal((JSON.parse(end?.[1] ?? '{}') as Plan).status, 'closed');
  // ?after= wins over the header, as for tickets.
  const after = await app.app.request(
    `/v1/plans/${plan.id}/events?follow=true&after=${events.length}`,
    { headers: { authorization: `Bearer ${alice}`, 'last-event-id': '1' } },
  );
  assert.deepEqual([...(await after.text()).matchAll(/^id: (\d+)$/gm)], []);
});

test('PUT spec with a stale ifUpdatedAt is a 409 plan_changed; a current one applies', async () => {
  const plan = await createDraft();
  const stale = await app.request(alice, 'PUT', `/v1/plans/${plan.id}/spec`, {
    ...spec(),
    ifUpdatedAt: '2000-01-01T00:00:00.000Z',
  });
  assert.equal(stale.status, 409);
  assert.equal((await errorOf(stale)).code, 'plan_changed');
  const current = await app.request(alice, 'PUT', `/v1/plans/${plan.id}/spec`, {
    ...spec(),
    ifUpdatedAt: plan.updatedAt,
  });
  assert.equal(current.status, 200, await current.clone().text());
});

test('the OpenAPI document lists every plan route', async () => {
  const document = (await (await app.app.request('/openapi.json')).json()) as {
    paths: Record<string, Record<string, unknown>>;
    components: { schemas: Record<string, unknown> };
  };
  // Plans and tickets share neutral names for what they share.
  assert.ok(document.components.schemas.StopRequest);
  assert.equal(document.components.schemas.StopTicketRequest, undefined);
  const routes = Object.entries(document.paths)
    .filter(([path]) => path.startsWith('/v1/plans'))
    .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`))
    .sort();
  assert.deepEqual(routes, [
    'get /v1/plans',
    'get /v1/plans/{id}',
    'get /v1/plans/{id}/bundle',
    'get /v1/plans/{id}/events',
    'get /v1/plans/{id}/evidence',
    'post /v1/plans',
    'post /v1/plans/{id}/approve',
    'post /v1/plans/{id}/close',
    'post /v1/plans/{id}/retry',
    'post /v1/plans/{id}/stop',
    'put /v1/plans/{id}/spec',
  ]);
});

test('a draft without models is saved and edited (a plan is data); approval names the ticket with no model and starts nothing', async () => {
  const withoutModels = spec();
  for (const ticket of withoutModels.tickets) delete ticket.model;
  const created = await app.request(alice, 'POST', '/v1/plans', {
    project: 'app',
    request: 'Add users',
    spec: withoutModels,
  });
  assert.equal(created.status, 201, await created.clone().text());
  const plan = (await created.json()) as Plan;
  const edited = await app.request(alice, 'PUT', `/v1/plans/${plan.id}/spec`, {
    ...withoutModels,
    summary: 'edited',
  });
  assert.equal(edited.status, 200, await edited.clone().text());

  const approved = await app.request(alice, 'POST', `/v1/plans/${plan.id}/approve`, {});
  assert.equal(approved.status, 400);
  const error = await errorOf(approved);
  assert.equal(error.code, 'model_missing');
  assert.match(error.message, /^Ticket schema of the plan: No model/);
  assert.match(error.hint ?? '', /mags project update app --model/);
  assert.match(error.hint ?? '', /MAGS_DEFAULT_MODEL/);
  const after = (await (await app.request(alice, 'GET', `/v1/plans/${plan.id}`)).json()) as Plan;
  assert.equal(after.status, 'draft');
  assert.ok(after.tickets.every((ticket) => ticket.ticket === null));
});

test('the evidence of a closed plan: a 404 whose hint does not say to watch it', async () => {
  const plan = await createDraft();
  const draftEvidence = await app.request(alice, 'GET', `/v1/plans/${plan.id}/evidence`);
  assert.equal(draftEvidence.status, 404);
  assert.match((await errorOf(draftEvidence)).hint ?? '', /mags plan approve/);
  const closed = await app.request(alice, 'POST', `/v1/plans/${plan.id}/close`, {});
  assert.equal(closed.status, 200, await closed.clone().text());
  const refused = await app.request(alice, 'GET', `/v1/plans/${plan.id}/evidence`);
  assert.equal(refused.status, 404);
  const error = await errorOf(refused);
  assert.equal(error.code, 'plan_evidence_not_found');
  assert.doesNotMatch(error.hint ?? '', /plan watch/);
  assert.match(error.hint ?? '', /closed: you can create a new plan/);
});
