/**
 * `GET /v1/jobs?follow=true` and `GET /v1/sandboxes?follow=true` in-process (`app.request`
 * behind the SDK's `jobs.follow` and `sandboxes.follow`), on the fake runtime (commands are host
 * processes): the list first, then a snapshot of each change, only the owner's and only what the
 * filters select.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { JobChange, SandboxChange } from '../src/sdk/index.ts';
import { Mags } from '../src/sdk/mags.ts';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

let app: TestApp;
let alice: string;
let bob: string;

before(async () => {
  app = await createTestApp();
  alice = (await app.token('alice')).token;
  bob = (await app.token('bob')).token;
});
after(() => app.close());

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

const jobLine = (change: JobChange) =>
  change.type === 'jobs'
    ? `list: ${change.jobs.map((job) => job.command.join(' ')).join(', ')}`
    : `${change.job.status} ${change.job.command.join(' ')}`;

test('jobs: the page, then the owner’s jobs as they are created, start and finish', async () => {
  const mags = clientOf(alice);
  const existing = await mags.run(['echo', 'before']);
  await mags.jobs.wait(existing.id);
  const controller = new AbortController();
  const changes = mags.jobs.follow({ signal: controller.signal });
  const first = await changes.next();
  assert.equal(first.value && jobLine(first.value), 'list: echo before');

  await clientOf(bob).run(['echo', 'bob']); // another owner's: never told
  const job = await mags.run(['echo', 'after']);
  const lines = await collect(changes, jobLine, (seen) => seen.includes('succeeded echo after'));
  controller.abort();
  assert.ok(
    lines.every((line) => line.endsWith(' echo after')),
    lines.join('\n'),
  );
  assert.equal(lines.at(-1), 'succeeded echo after');
  const finished = await mags.jobs.get(job.id);
  assert.equal(finished.status, 'succeeded');
});

test('jobs: the sandbox filter selects; a bad filter is a 400 before any stream', async () => {
  const mags = clientOf(bob);
  await mags.sandboxes.create({ name: 'filtered', ephemeral: true });
  const controller = new AbortController();
  const changes = mags.jobs.follow({ sandbox: 'filtered', signal: controller.signal });
  const first = await changes.next();
  assert.deepEqual(first.value, { type: 'jobs', jobs: [], nextCursor: null });
  await mags.run(['echo', 'unselected']);
  await mags.sandboxes.exec('filtered', ['echo', 'selected']);
  const lines = await collect(changes, jobLine, (seen) => seen.includes('succeeded echo selected'));
  controller.abort();
  assert.ok(
    lines.every((line) => line.endsWith(' echo selected')),
    lines.join('\n'),
  );
  await mags.sandboxes.delete('filtered');
  const response = await app.request(alice, 'GET', '/v1/jobs?follow=true&status=nope');
  assert.equal(response.status, 400);
});

const sandboxLine = (change: SandboxChange) =>
  change.type === 'sandboxes'
    ? `list: ${change.sandboxes.map((sandbox) => `${sandbox.name} ${sandbox.status}`).join(', ')}`
    : change.type === 'deleted'
      ? `deleted ${change.name}`
      : `${change.sandbox.status} ${change.sandbox.name}`;

test('sandboxes: the list, then each change of the owner’s, deletion included', async () => {
  const mags = clientOf(alice);
  await mags.sandboxes.create({ name: 'kept', ephemeral: true });
  const controller = new AbortController();
  const changes = mags.sandboxes.follow({ signal: controller.signal });
  const first = await changes.next();
  assert.equal(first.value && sandboxLine(first.value), 'list: kept running');

  await clientOf(bob).sandboxes.create({ name: 'bobs', ephemeral: true }); // never told
  await mags.sandboxes.stop('kept');
  await mags.sandboxes.create({ name: 'brief', ephemeral: true });
  await mags.sandboxes.delete('brief');
  const lines = await collect(changes, sandboxLine, (seen) => seen.includes('deleted brief'));
  controller.abort();
  // Snapshots: changes close together may come as one (the sandbox as it is then).
  assert.deepEqual(
    lines.filter((line) => !line.endsWith(' brief')),
    ['stopped kept'],
  );
  assert.equal(lines.at(-1), 'deleted brief');
  await clientOf(bob).sandboxes.delete('bobs');
  await mags.sandboxes.delete('kept');
});
