/**
 * `GET /v1/plans?follow=true`, `GET /v1/workspaces?follow=true` and `after=latest` on a plan's
 * events, in-process (`app.request` behind the SDK's `plans.follow`, `workspaces.follow` and
 * `plans.events`), on the fake runtime: the list first, then a snapshot of each change, only the
 * owner's and only what the filters select. Nothing here runs an agent.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PlanSpec } from '../src/api/plans.ts';
import type { PlanChange, WorkspaceChange } from '../src/sdk/index.ts';
import { Mags } from '../src/sdk/mags.ts';
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
  await app.services.repository.insertProject(projectRecord('web', {}));
  await app.services.repository.insertProject(projectRecord('app', { owner: 'bob' }));
});
/** Streams a failed test left open are closed before the app is. */
const streams: AbortController[] = [];
const streamController = () => {
  const controller = new AbortController();
  streams.push(controller);
  return controller;
};
after(() => {
  for (const controller of streams) controller.abort();
  return app.close();
});

/** An SDK client whose requests go to the in-process app. */
const clientOf = (token: string) =>
  new Mags({
    url: 'http://mags.test',
    token,
    fetch: (input, init) =>
      Promise.resolve(app.app.request(String(input).replace('http://mags.test', ''), init)),
  });

/** Changes as lines, until `until` says enough. */
async function collect<Change>(
  changes: AsyncGenerator<Change>,
  line: (change: Change) => string,
  until: (lines: string[]) => boolean,
): Promise<string[]> {
  const lines: string[] = [];
  for await (const change of changes) {
    lines.push(line(change));
    if (until(lines)) break;
  }
  return lines;
}

const spec = (summary: string): PlanSpec => ({
  summary,
  tickets: [
    {
      key: 'one',
      title: 'One',
      request: 'Do it.',
      criteria: [{ text: 'done' }],
      model: 'ollama:qwen3',
      dependsOn: [],
    },
  ],
});

const draft = (mags: Mags, request: string, project = 'app') =>
  mags.plans.create({ project, request, spec: spec(request) });

const planLine = (change: PlanChange) =>
  change.type === 'plans'
    ? `list: ${change.plans.map((plan) => plan.request).join(', ')}`
    : `${change.plan.status} ${change.plan.request} ${change.plan.summary}`;

test('plans: the list, then each change of the owner’s plans the project filter selects', async () => {
  const mags = clientOf(alice);
  const existing = await draft(mags, 'before');
  const controller = streamController();
  const changes = mags.plans.follow({ project: 'app', signal: controller.signal });
  const first = await changes.next();
  assert.equal(first.value && planLine(first.value), 'list: before');

  await draft(clientOf(bob), 'bobs'); // another owner's: never told
  await draft(mags, 'elsewhere', 'web'); // another project: filtered out
  const made = await draft(mags, 'after');
  await mags.plans.editSpec(made.id, spec('edited'));
  await mags.plans.close(existing.id);
  const lines = await collect(changes, planLine, (seen) => seen.includes('closed before before'));
  controller.abort();
  // Snapshots: changes close together may come as one (the plan as it is then).
  assert.ok(
    lines.every((line) => / (after|before) /.test(line)),
    lines.join('\n'),
  );
  assert.ok(lines.includes('draft after edited'), lines.join('\n'));

  const unknown = await app.request(alice, 'GET', '/v1/plans?follow=true&project=nope');
  assert.equal(unknown.status, 404);
  const badStatus = await app.request(alice, 'GET', '/v1/plans?follow=true&status=nope');
  assert.equal(badStatus.status, 400);
});

test('plan events with after=latest: none of those stored, only those to come', async () => {
  const mags = clientOf(alice);
  const plan = await draft(mags, 'latest');
  await mags.plans.editSpec(plan.id, spec('edited once'));
  const all = [];
  for await (const event of mags.plans.events(plan.id)) all.push(event);
  assert.ok(all.length >= 2, 'the draft and the edit are stored');
  const none = [];
  for await (const event of mags.plans.events(plan.id, { after: 'latest' })) none.push(event);
  assert.deepEqual(none, []);

  // Followed from the newest: the plan is settled (a draft), so the stream ends at once with
  // nothing; the raw route says so too, and still ends with the plan.
  const response = await app.request(alice, 'GET', `/v1/plans/${plan.id}/events?after=latest`);
  assert.equal(response.status, 200);
  const text = await response.text();
  assert.doesNotMatch(text, /^id: /m);
  assert.match(text, /^event: end$/m);
  // What is stored after the newest is what such a follower gets next.
  const latest = all.at(-1)?.id ?? 0;
  await mags.plans.close(plan.id);
  const next = [];
  for await (const event of mags.plans.events(plan.id, { after: latest })) next.push(event);
  assert.ok(
    next.some((event) => event.data.type === 'plan_status' && event.data.to === 'closed'),
    JSON.stringify(next),
  );
  assert.ok(next.every((event) => event.id > latest));
  const bad = await app.request(alice, 'GET', `/v1/plans/${plan.id}/events?after=soon`);
  assert.equal(bad.status, 400);
  const bobs = await app.request(bob, 'GET', `/v1/plans/${plan.id}/events?after=latest`);
  assert.equal(bobs.status, 404);
});

const workspaceLine = (change: WorkspaceChange) =>
  change.type === 'workspaces'
    ? `list: ${change.workspaces.map((workspace) => workspace.name).join(', ')}`
    : change.type === 'deleted'
      ? `deleted ${change.name}`
      : `${change.workspace.name} v${change.workspace.remoteVersion ?? '-'}`;

test('workspaces: the list, then each made, synced, forked and deleted, only the owner’s', async () => {
  const mags = clientOf(alice);
  await mags.jobs.wait((await mags.run('true', { workspace: 'kept' })).id);
  const controller = streamController();
  const changes = mags.workspaces.follow({ signal: controller.signal });
  const first = await changes.next();
  assert.equal(first.value && workspaceLine(first.value), 'list: kept');

  const bobs = clientOf(bob);
  await bobs.jobs.wait((await bobs.run('true', { workspace: 'kept' })).id); // never told
  await mags.jobs.wait((await mags.run('true', { workspace: 'made' })).id);
  await mags.workspaces.sync('kept');
  await mags.workspaces.fork('kept', 'forked');
  await mags.workspaces.delete('forked');
  const lines = await collect(changes, workspaceLine, (seen) => seen.includes('deleted forked'));
  controller.abort();
  assert.ok(lines.includes('made v-'), lines.join('\n'));
  assert.ok(lines.includes('kept v1'), lines.join('\n'));
  assert.equal(lines.at(-1), 'deleted forked');
  // Bob's "kept" is his: alice's stream told of hers only (synced: v1), never of his (v-).
  assert.ok(!lines.includes('kept v-'), lines.join('\n'));
});

test('the follow routes count against the owner’s open streams', async () => {
  const { isLongLived } = await import('../src/server/middleware/limit-streams.ts');
  assert.equal(isLongLived('GET', '/v1/plans', 'true'), true);
  assert.equal(isLongLived('GET', '/v1/workspaces', 'true'), true);
  assert.equal(isLongLived('GET', '/v1/workspaces', undefined), false);
});
