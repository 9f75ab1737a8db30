/**
 * `mags.plans` through a real server (a plan written by hand on a stored project; no agent runs):
 * create, list, get, editSpec, events listed and followed, a followed stream that drops mid-way
 * resumed after the last event it gave (each event once, in order), wait on a settled plan, stop
 * and close, errors as the SDK's classes, and another owner's plan a NotFoundError everywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PlanEvent, PlanSpec } from '../src/api/plans.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../src/errors/mags-error.ts';
import { Mags } from '../src/sdk/mags.ts';
import { projectRecord } from './helpers/project-record.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping plan SDK tests: ${skip}\n`);

const spec = (): PlanSpec => ({
  summary: 'Two steps',
  tickets: [
    {
      key: 'first',
      title: 'First',
      request: 'Do the first thing.',
      criteria: [{ text: 'done', check: 'true' }],
      model: 'ollama:qwen3',
      dependsOn: [],
    },
    {
      key: 'second',
      title: 'Second',
      request: 'Then the second.',
      criteria: [{ text: 'done' }],
      model: 'ollama:qwen3',
      dependsOn: ['first'],
    },
  ],
});

/**
 * A fetch whose first followed event stream is cut after its first event: what a dropped
 * connection looks like to the client. Every request's path is recorded.
 */
function droppingFetch(paths: string[]): typeof fetch {
  let dropped = false;
  return async (input, init) => {
    const url = new URL(String(input));
    paths.push(url.pathname + url.search);
    const response = await fetch(input, init);
    if (dropped || !url.searchParams.has('follow', 'true') || !response.body) return response;
    dropped = true;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        text += decoder.decode(value, { stream: true });
        const first = /^id: \d+$[\s\S]*?\n\n/m.exec(text);
        if (!first) return;
        controller.enqueue(new TextEncoder().encode(text.slice(0, first.index + first[0].length)));
        await reader.cancel();
        controller.error(new TypeError('terminated: the connection dropped'));
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

describe('mags.plans through a server', { skip }, () => {
  let server: TestServer;
  let alice: Mags;
  let aliceToken: string;
  let bob: Mags;

  before(async () => {
    server = await startTestServer({ scheduling: { poolSize: 0 } });
    await server.server.services.repository.insertProject(projectRecord('app', {}));
    const client = await server.client('alice');
    alice = client.mags;
    aliceToken = client.token;
    bob = (await server.client('bob')).mags;
  });
  after(() => server?.close());

  test('create, list, get, editSpec, close; events listed, followed, and resumed after a drop', async () => {
    const plan = await alice.plans.create({ project: 'app', request: 'Two steps', spec: spec() });
    assert.equal(plan.status, 'draft');
    assert.deepEqual(
      (await alice.plans.list({ project: 'app', status: 'draft' })).map((each) => each.id),
      [plan.id],
    );
    assert.equal((await alice.plans.get(plan.id)).summary, 'Two steps');
    const edited = spec();
    edited.summary = 'Two steps, edited';
    assert.equal((await alice.plans.editSpec(plan.id, edited)).summary, 'Two steps, edited');
    await assert.rejects(
      alice.plans.editSpec(plan.id, { ...edited, tickets: [] }),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        /tickets: a plan needs at least one/.test(error.message),
    );
    const closed = await alice.plans.close(plan.id);
    assert.equal(closed.status, 'closed');
    await assert.rejects(alice.plans.approve(plan.id), ConflictError);

    const listed: PlanEvent[] = [];
    for await (const event of alice.plans.events(plan.id)) listed.push(event);
    assert.ok(listed.length >= 3, 'created, edited, closed');
    const last = listed.at(-1)?.data;
    assert.equal(last?.type === 'plan_status' && last.to, 'closed');

    // Followed over a connection that drops after the first event: each event once, in order.
    const paths: string[] = [];
    const dropping = new Mags({ url: server.url, token: aliceToken, fetch: droppingFetch(paths) });
    const followed: PlanEvent[] = [];
    for await (const event of dropping.plans.events(plan.id, { follow: true }))
      followed.push(event);
    assert.deepEqual(
      followed.map((event) => event.id),
      listed.map((event) => event.id),
    );
    const follows = paths.filter((path) => path.includes('follow=true'));
    assert.deepEqual(follows, [
      `/v1/plans/${plan.id}/events?after=0&follow=true`,
      `/v1/plans/${plan.id}/events?after=${listed[0]?.id}&follow=true`,
    ]);

    // wait: a settled plan resolves with it, its events told on the way.
    const seen: number[] = [];
    const waited = await alice.plans.wait(plan.id, { onEvent: (event) => seen.push(event.id) });
    assert.equal(waited.status, 'closed');
    assert.deepEqual(
      seen,
      listed.map((event) => event.id),
    );
  });

  test('stop and retry of a draft are refused, it has no evidence or bundle yet; another owner gets 404s', async () => {
    const plan = await alice.plans.create({ project: 'app', request: 'Two steps', spec: spec() });
    await assert.rejects(alice.plans.stop(plan.id, { reason: 'no' }), ConflictError);
    await assert.rejects(alice.plans.retry(plan.id, 'first'), ConflictError);
    await assert.rejects(alice.plans.evidence(plan.id), NotFoundError);
    await assert.rejects(alice.plans.bundle(plan.id), NotFoundError);

    await assert.rejects(bob.plans.get(plan.id), NotFoundError);
    await assert.rejects(bob.plans.editSpec(plan.id, spec()), NotFoundError);
    await assert.rejects(bob.plans.approve(plan.id), NotFoundError);
    await assert.rejects(bob.plans.close(plan.id), NotFoundError);
    await assert.rejects(bob.plans.wait(plan.id), NotFoundError);
    await assert.rejects(
      (async () => {
        for await (const _ of bob.plans.events(plan.id, { follow: true })) break;
      })(),
      NotFoundError,
    );
    assert.deepEqual(await bob.plans.list(), []);
    assert.equal((await alice.plans.get(plan.id)).status, 'draft', 'bob changed nothing');
  });
});
