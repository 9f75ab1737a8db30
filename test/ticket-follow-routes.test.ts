/**
 * `GET /v1/tickets?follow=true` in-process (`app.request` behind the SDK's `tickets.follow`):
 * the list first, then a ticket's snapshot each time one changes status, only the owner's and
 * only those the project filter selects; an unknown project is a 404 before any stream. Nothing
 * here runs an agent.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TicketChange } from '../src/sdk/index.ts';
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
after(() => app.close());

/** An SDK client whose requests go to the in-process app. */
const clientOf = (token: string) =>
  new Mags({
    url: 'http://mags.test',
    token,
    fetch: (input, init) =>
      Promise.resolve(app.app.request(String(input).replace('http://mags.test', ''), init)),
  });

const ticketBody = (project: string, title: string) => ({
  project,
  title,
  request: 'Fix it.',
  criteria: [{ text: 'fixed' }],
  model: 'ollama:qwen3',
});

/** Changes from the stream, as `status title` lines, until `until` says enough. */
async function collect(
  changes: AsyncGenerator<TicketChange>,
  until: (lines: string[]) => boolean,
): Promise<string[]> {
  const lines: string[] = [];
  for await (const change of changes) {
    if (change.type === 'tickets') {
      lines.push(`list: ${change.tickets.map((ticket) => ticket.title).join(', ')}`);
    } else lines.push(`${change.ticket.status} ${change.ticket.title}`);
    if (until(lines)) break;
  }
  return lines;
}

test('the list, then each change of the owner’s tickets the filter selects, as snapshots', async () => {
  const mags = clientOf(alice);
  const existing = await mags.tickets.create(ticketBody('app', 'Existing'));
  const controller = new AbortController();
  const changes = mags.tickets.follow({ project: 'app', signal: controller.signal });
  const first = await changes.next();
  assert.deepEqual(first.value, {
    type: 'tickets',
    tickets: [await mags.tickets.get(existing.id)],
  });

  // Another owner's ticket and one of another project are not told; alice's changes are.
  await clientOf(bob).tickets.create(ticketBody('app', 'Bob’s'));
  await mags.tickets.create(ticketBody('web', 'Other project'));
  const created = await mags.tickets.create(ticketBody('app', 'New'));
  await mags.tickets.close(created.id);
  const lines = await collect(changes, (seen) => seen.includes('closed New'));
  controller.abort();
  // Snapshots: changes close together may come as one (the ticket as it is then).
  assert.equal(lines.at(-1), 'closed New');
  assert.deepEqual(
    lines.filter((line) => line !== 'draft New' && line !== 'closed New'),
    [],
  );
});

test('an unknown project is a 404 before the stream; bob’s list has none of alice’s', async () => {
  const response = await app.request(alice, 'GET', '/v1/tickets?follow=true&project=nope');
  assert.equal(response.status, 404);
  const controller = new AbortController();
  const changes = clientOf(bob).tickets.follow({ signal: controller.signal });
  const first = await changes.next();
  controller.abort();
  await changes.return(undefined); // cancels the body: the server's stream ends
  const change = first.value as TicketChange | undefined;
  assert.equal(change?.type, 'tickets');
  assert.deepEqual(
    change.tickets.map((ticket) => ticket.title),
    ['Bob’s'],
  );
});

test('another owner’s ticket changes cost alice’s open streams no read', async () => {
  const { tickets } = app.services;
  const reads: string[] = [];
  const get = tickets.get.bind(tickets);
  tickets.get = (owner, id) => {
    reads.push(`${owner} ${id}`);
    return get(owner, id);
  };
  try {
    const controllers = [new AbortController(), new AbortController()];
    const streams = controllers.map((controller) =>
      clientOf(alice).tickets.follow({ signal: controller.signal }),
    );
    for (const stream of streams) await stream.next(); // the list: subscribed
    const bobs = await clientOf(bob).tickets.create(ticketBody('app', 'Bob’s second'));
    await clientOf(bob).tickets.close(bobs.id);
    // Alice's own change after bob's: once her streams have it, bob's were handled before it.
    const mine = await clientOf(alice).tickets.create(ticketBody('app', 'Mine'));
    await clientOf(alice).tickets.close(mine.id);
    for (const stream of streams) await collect(stream, (seen) => seen.includes('closed Mine'));
    for (const controller of controllers) controller.abort();
    assert.deepEqual(
      reads.filter((read) => read.startsWith('alice ') && read.endsWith(bobs.id)),
      [],
    );
  } finally {
    tickets.get = get;
  }
});
