/**
 * Webhook deliveries through TriggerManager.hook on the real state repository (tickets that do
 * not run): what is signed, what is a replay, what is too large or too deep, and simultaneous
 * deliveries against the trigger's limits. The clock is given, so the window's edges are exact.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StoredTickets } from '../../test/helpers/trigger-tickets.ts';
import { maxWebhookBodyBytes, webhookToleranceSeconds } from '../api/triggers.ts';
import type { MagsError } from '../errors/mags-error.ts';
import { createSqliteStateRepository } from '../state/sqlite/sqlite-state-repository.ts';
import { TriggerManager } from './trigger-manager.ts';
import type { WebhookRequest } from './webhook-delivery.ts';
import { signWebhook } from './webhook-signature.ts';

const directory = await mkdtemp(join(tmpdir(), 'mags-test-webhooks-'));
after(() => rm(directory, { recursive: true, force: true }));
let databases = 0;

const template =
  '---\ntitle: "Issue {{payload.title}}"\ncriteria: [{text: done, check: "true"}]\n---\nLook.\n';

async function setUp(limits: { maxConcurrent?: number; maxFiringsPerDay?: number } = {}) {
  const clock = { now: new Date('2026-03-01T12:00:00.000Z') };
  const repository = createSqliteStateRepository(join(directory, `state-${++databases}.db`));
  const tickets = new StoredTickets(repository);
  const manager = new TriggerManager({ repository, tickets, log: () => {}, now: () => clock.now });
  const { trigger, secret } = await manager.add('ann', {
    name: 'hook',
    project: 'calc',
    template,
    webhook: true,
    maxConcurrent: limits.maxConcurrent ?? 100,
    ...(limits.maxFiringsPerDay && { maxFiringsPerDay: limits.maxFiringsPerDay }),
  });
  const seconds = () => Math.floor(clock.now.getTime() / 1000);
  /** A delivery; `options` change what is sent after (or instead of) signing. */
  const deliver = (
    body: string | ReadableStream<Uint8Array>,
    options: {
      timestamp?: number;
      signedTimestamp?: number;
      delivery?: string;
      contentLength?: string;
      signature?: string;
    } = {},
  ) => {
    const timestamp = String(options.timestamp ?? seconds());
    const signed = String(options.signedTimestamp ?? timestamp);
    const headers: Record<string, string | undefined> = {
      'x-mags-signature':
        options.signature ??
        (typeof body === 'string'
          ? signWebhook(secret as string, signed, Buffer.from(body))
          : 'sha256=00'),
      'x-mags-timestamp': timestamp,
      'x-mags-delivery': options.delivery ?? randomUUID(),
      'content-length': options.contentLength,
    };
    const request: WebhookRequest = {
      header: (name) => headers[name],
      body: typeof body === 'string' ? new Blob([body]).stream() : body,
    };
    return manager.hook(trigger.id, request);
  };
  return { clock, repository, tickets, manager, deliver, seconds, secret: secret as string };
}

const refusedWith = (code: string, status: number) => (error: MagsError) =>
  error.code === code && error.statusCode === status;

test('the timestamp is inside the signature: a valid signature sent with another fresh timestamp is refused', async () => {
  const { deliver, seconds, repository } = await setUp();
  const body = '{"title":"a"}';
  await assert.rejects(
    deliver(body, { signedTimestamp: seconds() - 10, timestamp: seconds() }),
    refusedWith('webhook_signature', 401),
  );
  assert.equal((await deliver(body)).status, 'created');
  await repository.close();
});

test('a replay is refused by either key alone: the delivery id re-signed, or the signature under a new id', async () => {
  const { deliver, seconds, tickets, repository } = await setUp();
  const body = '{"title":"b"}';
  const first = { delivery: 'd-1', timestamp: seconds() };
  assert.equal((await deliver(body, first)).status, 'created');
  // Signed again with another timestamp: a new signature, so only the delivery id refuses it.
  await assert.rejects(
    deliver(body, { delivery: 'd-1', timestamp: seconds() - 1 }),
    refusedWith('webhook_replayed', 409),
  );
  // The same signature under a new id: only the signature refuses it.
  await assert.rejects(
    deliver(body, { ...first, delivery: 'd-2' }),
    refusedWith('webhook_replayed', 409),
  );
  assert.equal(tickets.created.length, 1);
  await repository.close();
});

test('a delivery signed at the far edge of the window stays refused until it is stale', async () => {
  const { deliver, clock, seconds, repository } = await setUp();
  const body = '{"title":"c"}';
  // Signed as far ahead of the server's clock as is accepted.
  const timestamp = seconds() + webhookToleranceSeconds;
  assert.equal((await deliver(body, { delivery: 'edge', timestamp })).status, 'created');
  // Twice the tolerance later (and a half second) it is still inside its window.
  clock.now = new Date(clock.now.getTime() + 2 * webhookToleranceSeconds * 1000 + 500);
  await assert.rejects(
    deliver(body, { delivery: 'edge', timestamp }),
    refusedWith('webhook_replayed', 409),
  );
  clock.now = new Date(clock.now.getTime() + 1000);
  await assert.rejects(
    deliver(body, { delivery: 'edge', timestamp }),
    refusedWith('webhook_stale', 401),
  );
  await repository.close();
});

test('a chunked body over the limit, or one longer than its Content-Length says, is a 413', async () => {
  const { deliver, tickets, repository } = await setUp();
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  const chunks = (count: number) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (let index = 0; index < count; index++) controller.enqueue(chunk);
        controller.close();
      },
    });
  const over = Math.ceil(maxWebhookBodyBytes / chunk.byteLength) + 1;
  await assert.rejects(deliver(chunks(over)), refusedWith('too_large', 413));
  await assert.rejects(
    deliver(chunks(over), { contentLength: '20' }),
    refusedWith('too_large', 413),
  );
  assert.equal(tickets.created.length, 0);
  await repository.close();
});

test('a body nested deeper than allowed is a 400 and records nothing (its id stays usable)', async () => {
  const { deliver, tickets, repository } = await setUp();
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  await assert.rejects(deliver(deep, { delivery: 'deep' }), refusedWith('payload_too_deep', 400));
  const fine = `{"title":"d","list":${'['.repeat(300)}${']'.repeat(300)}}`;
  assert.equal((await deliver(fine, { delivery: 'deep' })).status, 'created');
  assert.equal(tickets.created.length, 1);
  await repository.close();
});

test('simultaneous deliveries pass maxConcurrent and maxFiringsPerDay exactly', async () => {
  for (const [limits, expected] of [
    [{ maxConcurrent: 2 }, 2],
    [{ maxFiringsPerDay: 3 }, 3],
  ] as const) {
    const { deliver, tickets, repository } = await setUp(limits);
    const fired = await Promise.all(
      Array.from({ length: 8 }, (_, index) => deliver(`{"title":"${index}"}`)),
    );
    assert.equal(fired.filter((each) => each.status === 'created').length, expected);
    assert.equal(tickets.created.length, expected);
    await repository.close();
  }
});
