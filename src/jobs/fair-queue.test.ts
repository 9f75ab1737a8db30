import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimitError } from '../errors/mags-error.ts';
import { FairQueue, type Ticket } from './fair-queue.ts';

/** Which tickets hold a slot now (granted promises settle on the next microtasks). */
async function grantedOf(tickets: Map<string, Ticket>): Promise<string[]> {
  const granted: string[] = [];
  for (const [name, ticket] of tickets) {
    const settled = await Promise.race([
      ticket.granted.then(() => true),
      new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
    ]);
    if (settled) granted.push(name);
  }
  return granted;
}

test('a freed slot goes to the next owner in turn, not to the flooding owner', async () => {
  const queue = new FairQueue({ limit: 2, perOwnerActive: 10, perOwnerWaiting: 100 });
  const tickets = new Map<string, Ticket>();
  for (let index = 1; index <= 10; index++) tickets.set(`a${index}`, queue.enqueue('alice'));
  tickets.set('b1', queue.enqueue('bob'));
  tickets.set('c1', queue.enqueue('carol'));
  tickets.set('b2', queue.enqueue('bob'));
  assert.deepEqual(await grantedOf(tickets), ['a1', 'a2']);
  assert.equal(queue.waiting, 11);
  const order: string[] = [];
  for (let round = 0; round < 5; round++) {
    const holding = await grantedOf(tickets);
    const oldest = holding[0] as string;
    tickets.get(oldest)?.release();
    tickets.delete(oldest);
    order.push(...(await grantedOf(tickets)).filter((name) => !holding.includes(name)));
  }
  // Whoever holds fewest slots goes first, round-robin among equals (first-come-first-served
  // would give a3 to a7): bob's and carol's jobs never wait behind alice's backlog.
  assert.deepEqual(order, ['b1', 'a3', 'c1', 'b2', 'a4']);
});

test("an owner at its own limit waits while other owners' jobs take the free slots", async () => {
  const queue = new FairQueue({ limit: 4, perOwnerActive: 2, perOwnerWaiting: 10 });
  const tickets = new Map<string, Ticket>();
  for (let index = 1; index <= 3; index++) tickets.set(`a${index}`, queue.enqueue('alice'));
  tickets.set('b1', queue.enqueue('bob'));
  assert.deepEqual(await grantedOf(tickets), ['a1', 'a2', 'b1']);
  assert.deepEqual(queue.countsFor('alice'), { active: 2, waiting: 1 });
  assert.equal(queue.active, 3);
  tickets.get('a1')?.release();
  tickets.delete('a1');
  assert.deepEqual(await grantedOf(tickets), ['a2', 'a3', 'b1']);
});

test("over an owner's queue limit is a RateLimitError at once; other owners are unaffected", () => {
  const queue = new FairQueue({
    limit: 1,
    perOwnerActive: 1,
    perOwnerWaiting: 2,
    retryAfterSeconds: 7,
  });
  queue.enqueue('alice'); // runs
  queue.enqueue('alice'); // waits
  queue.enqueue('alice'); // waits
  assert.throws(
    () => queue.enqueue('alice'),
    (error: unknown) =>
      error instanceof RateLimitError &&
      error.statusCode === 429 &&
      error.retryAfterSeconds === 7 &&
      error.limit === 'queued_jobs' &&
      error.retryable &&
      /mags stop/.test(error.hint ?? ''),
  );
  assert.equal(queue.waiting, 2);
  queue.enqueue('bob');
  assert.equal(queue.waiting, 3);
});

test('leaving the queue before a slot frees it at once and keeps the counts right', async () => {
  const queue = new FairQueue({ limit: 1, perOwnerActive: 1, perOwnerWaiting: 5 });
  const first = queue.enqueue('alice');
  const second = queue.enqueue('alice');
  const third = queue.enqueue('bob');
  second.release();
  second.release(); // idempotent
  assert.deepEqual(queue.countsFor('alice'), { active: 1, waiting: 0 });
  first.release();
  await third.granted;
  assert.deepEqual(queue.countsFor('bob'), { active: 1, waiting: 0 });
  third.release();
  assert.equal(queue.active, 0);
  assert.equal(queue.waiting, 0);
  assert.deepEqual(queue.countsFor('alice'), { active: 0, waiting: 0 });
});

test('enter holds an owner slot without a host slot, and is refused at the owner limit', async () => {
  const queue = new FairQueue({ limit: 1, perOwnerActive: 2, perOwnerWaiting: 5 });
  const exec1 = queue.enter('alice');
  const exec2 = queue.enter('alice');
  assert.throws(() => queue.enter('alice'), RateLimitError);
  assert.equal(queue.active, 0, 'execs take no host slot');
  const run = queue.enqueue('alice');
  const bobs = queue.enqueue('bob');
  await bobs.granted; // the host slot is free, alice is at her own limit
  exec1.release();
  bobs.release();
  await run.granted;
  assert.deepEqual(queue.countsFor('alice'), { active: 2, waiting: 0 });
  exec2.release();
  run.release();
});
