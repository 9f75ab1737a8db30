/**
 * Finding 3 of issue 10: alice submitted 500 `sleep 2` jobs and bob's one job waited 31 s behind
 * them. Now one owner's queue is bounded (429 with Retry-After beyond it) and free slots go to
 * the owner holding the fewest, so bob's job takes the first slot that frees.
 * A real server with real sandboxes; two host slots, so the flood fills the host.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Job, type Mags, RateLimitError } from '../src/sdk/index.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping the fairness tests: ${skip}\n`);

const hostSlots = 2;
const queuedPerOwner = 64;
const jobSeconds = 2;
/** Bob's job must start within one of alice's jobs plus this margin (a loaded 2-core host). */
const marginSeconds = 10;

describe('fairness between owners under a flood', { skip }, () => {
  let server: TestServer;
  let alice: { token: string; mags: Mags };
  let bob: { token: string; mags: Mags };
  before(async () => {
    server = await startTestServer({
      maxConcurrentJobs: hostSlots,
      perOwner: { runningJobs: hostSlots, queuedJobs: queuedPerOwner, sandboxes: 1 },
      scheduling: { poolSize: 0, parkTtlMs: 0 },
    });
    alice = await server.client('alice');
    bob = await server.client('bob');
  });
  after(() => server.close());

  test("one owner's sandboxes are bounded: one more is a RateLimitError, others unaffected", async () => {
    await alice.mags.sandboxes.create({ name: 'one', ephemeral: true });
    const refused = await alice.mags.sandboxes
      .create({ name: 'two', ephemeral: true })
      .catch((error: unknown) => error);
    assert.ok(refused instanceof RateLimitError, String(refused));
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.code, 'owner_limit_reached');
    assert.equal(refused.retryAfterSeconds, 30);
    assert.match(refused.hint ?? '', /mags stop NAME/);
    await bob.mags.sandboxes.create({ name: 'two', ephemeral: true });
    await bob.mags.sandboxes.delete('two');
  });

  test("a flood is cut at the owner's queue limit and another owner's job starts next", async () => {
    const submit = (token: string, command: string) =>
      fetch(`${server.url}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ command }),
      });
    const responses = await Promise.all(
      Array.from({ length: 100 }, () => submit(alice.token, `sleep ${jobSeconds}`)),
    );
    const accepted = responses.filter((response) => response.status === 201);
    const refused = responses.filter((response) => response.status === 429);
    assert.equal(accepted.length + refused.length, 100);
    assert.ok(accepted.length >= hostSlots + queuedPerOwner, `${accepted.length} accepted`);
    assert.ok(refused.length > 0, 'some of the flood is refused');
    const first = refused[0] as Response;
    assert.equal(first.headers.get('retry-after'), '5');
    const { error } = (await first.json()) as { error: { code: string; hint: string } };
    assert.equal(error.code, 'owner_limit_reached');
    assert.match(error.hint, /mags stop/);
    const counts = server.server.services.jobs.countsFor('alice');
    assert.ok(counts.queued <= queuedPerOwner, `${counts.queued} queued`);
    const aliceJobs = (await Promise.all(accepted.map((response) => response.json()))) as Job[];

    // Over her running limit an exec in her own sandbox is refused too, with the same code.
    await assert.rejects(
      alice.mags.sandboxes.exec('one', 'true'),
      (rejection: unknown) =>
        rejection instanceof RateLimitError && rejection.retryAfterSeconds === 5,
    );

    const bobs = await bob.mags.runAndWait('echo bob');
    assert.equal(bobs.stdout, 'bob\n');
    const submittedAt = Date.parse(bobs.job.createdAt);
    const startedAt = Date.parse(bobs.job.startedAt as string);
    const waitSeconds = (startedAt - submittedAt) / 1000;
    process.stdout.write(`# bob's job started ${waitSeconds.toFixed(2)} s after submission\n`);
    // No job of alice's started between bob's submission and his start: he took the next slot.
    const jumped = [];
    for (const job of aliceJobs) {
      const current = await alice.mags.jobs.get(job.id);
      const started = current.startedAt ? Date.parse(current.startedAt) : undefined;
      if (started !== undefined && started > submittedAt && started < startedAt) jumped.push(job);
    }
    assert.deepEqual(jumped, [], 'alice jobs started ahead of bob');
    assert.ok(waitSeconds < jobSeconds + marginSeconds, `bob waited ${waitSeconds} s`);
    const stillQueued = server.server.services.jobs.countsFor('alice').queued;
    assert.ok(stillQueued > queuedPerOwner / 2, `alice still has ${stillQueued} queued`);
  });

  test('a queued job stopped leaves the queue at once', async () => {
    const queued = (await alice.mags.jobs.list({ status: 'queued', limit: 1 })).jobs[0];
    assert.ok(queued, 'alice still has queued jobs');
    const before = server.server.services.jobs.countsFor('alice').queued;
    const stopped = await alice.mags.jobs.stop(queued.id);
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.startedAt, null);
    assert.equal(server.server.services.jobs.countsFor('alice').queued, before - 1);
  });
});
