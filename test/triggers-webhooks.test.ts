/**
 * Webhook triggers end to end (a real server, the namespace runtime, scripted agent models): a
 * signed delivery creates one ticket from the template with the payload's text in it, running;
 * every refused delivery (bad or missing signature, stale timestamp, replay, oversized, not JSON,
 * unknown hook) is answered with its status and creates nothing. Also: the secret is shown once,
 * dedupe merges into the open ticket, and another owner never sees the trigger.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Trigger } from '../src/api/triggers.ts';
import {
  type EndToEndServer,
  finish,
  followTicket,
  startEndToEndServer,
} from './helpers/end-to-end-tickets.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { calcTemplate, deliver } from './helpers/triggers.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping webhook trigger tests: ${skip}\n`);

const issue = {
  issue: { title: 'sum subtracts', user: 'dana', body: 'sum(2, 3) is -1.', number: 7 },
};

describe('webhook triggers (real server, scripted models)', { skip }, () => {
  let e2e: EndToEndServer;
  let trigger: Trigger;
  let secret: string;
  before(async () => {
    e2e = await startEndToEndServer();
    const model = e2e.model(() => finish('looked at it', true));
    const created = await e2e.alice.triggers.create({
      name: 'issues',
      project: 'calc',
      template: calcTemplate(model.id),
      webhook: true,
      maxConcurrent: 10,
    });
    trigger = created.trigger;
    assert.match(created.secret ?? '', /^whsec_[A-Za-z0-9_-]{43}$/);
    secret = created.secret as string;
  });
  after(() => e2e?.close());

  const counts = async () => ({
    tickets: (await e2e.alice.tickets.list({ project: 'calc' })).length,
    firings: (await e2e.alice.triggers.firings(trigger.id)).length,
  });

  test('the secret is shown once: the trigger as shown, listed or fetched has none', async () => {
    assert.equal(trigger.hookPath, `/v1/hooks/${trigger.id}`);
    const shown = await e2e.alice.triggers.get('issues');
    assert.equal(JSON.stringify(shown).includes(secret), false);
    const listed = await e2e.alice.triggers.list();
    assert.equal(JSON.stringify(listed).includes(secret), false);
  });

  test('a validly signed delivery fires once: a ticket from the template with the payload in it, run', async () => {
    const before = await counts();
    const response = await deliver(e2e.server.url, trigger.id, secret, JSON.stringify(issue));
    assert.equal(response.status, 202, await response.clone().text());
    const { firing } = (await response.json()) as { firing: { status: string; ticket: string } };
    assert.equal(firing.status, 'created');
    const ticket = await e2e.alice.tickets.get(firing.ticket);
    assert.equal(ticket.title, 'Issue: sum subtracts');
    assert.match(ticket.request, /Reported by dana:\nsum\(2, 3\) is -1\./);
    // The check is the template's, not the payload's.
    assert.match(ticket.criteria[0]?.check ?? '', /require\("\.\/sum\.js"\)/);
    assert.ok(['queued', 'running'].includes(ticket.status), ticket.status);
    await followTicket(e2e.alice, ticket.id);
    assert.equal((await e2e.alice.tickets.get(ticket.id)).status, 'awaiting_review');
    assert.deepEqual(await counts(), {
      tickets: before.tickets + 1,
      firings: before.firings + 1,
    });
    const [stored] = await e2e.alice.triggers.firings('issues', { limit: 1 });
    assert.deepEqual(
      [stored?.source, stored?.ticket, stored?.payload],
      ['webhook', ticket.id, issue],
    );
  });

  test('refused deliveries get their status and create nothing', async () => {
    const before = await counts();
    const body = JSON.stringify(issue);
    const now = Math.floor(Date.now() / 1000);
    const refusals: Array<[string, Promise<Response>, number, string]> = [
      [
        'bad signature',
        deliver(e2e.server.url, trigger.id, 'whsec_wrong', body),
        401,
        'webhook_signature',
      ],
      [
        'missing signature',
        fetch(`${e2e.server.url}/v1/hooks/${trigger.id}`, { method: 'POST', body }),
        401,
        'webhook_signature',
      ],
      [
        'body changed after signing',
        deliver(e2e.server.url, trigger.id, secret, body, {
          signature: (await import('../src/triggers/webhook-signature.ts')).signWebhook(
            secret,
            String(now),
            Buffer.from(`${body} `),
          ),
          timestamp: now,
        }),
        401,
        'webhook_signature',
      ],
      [
        'stale timestamp',
        deliver(e2e.server.url, trigger.id, secret, body, { timestamp: now - 301 }),
        401,
        'webhook_stale',
      ],
      [
        'timestamp from the future',
        deliver(e2e.server.url, trigger.id, secret, body, { timestamp: now + 600 }),
        401,
        'webhook_stale',
      ],
      [
        'oversized',
        deliver(
          e2e.server.url,
          trigger.id,
          secret,
          JSON.stringify({ padding: 'x'.repeat(256 * 1024) }),
        ),
        413,
        'too_large',
      ],
      ['not JSON', deliver(e2e.server.url, trigger.id, secret, 'not json'), 400, 'invalid_json'],
      [
        'unknown hook',
        deliver(e2e.server.url, 'trg_nosuchhook', secret, body),
        404,
        'hook_not_found',
      ],
    ];
    for (const [what, pending, status, code] of refusals) {
      const response = await pending;
      const text = await response.text();
      assert.equal(response.status, status, `${what}: ${text}`);
      assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, code, what);
    }
    assert.deepEqual(await counts(), before);
  });

  test('a replayed delivery is a 409: by its id, and by its signature under a new id', async () => {
    const model = e2e.model(() => finish('looked', true));
    const { trigger: replayed, secret: replaySecret } = await e2e.alice.triggers.create({
      name: 'replays',
      project: 'calc',
      template: calcTemplate(model.id),
      webhook: true,
    });
    const body = JSON.stringify(issue);
    const timestamp = Math.floor(Date.now() / 1000);
    const first = await deliver(e2e.server.url, replayed.id, replaySecret as string, body, {
      delivery: 'd-1',
      timestamp,
    });
    assert.equal(first.status, 202, await first.clone().text());
    const ticket = ((await first.json()) as { firing: { ticket: string } }).firing.ticket;
    const before = await e2e.alice.tickets.list({ project: 'calc' });
    for (const delivery of ['d-1', 'd-2']) {
      const again = await deliver(e2e.server.url, replayed.id, replaySecret as string, body, {
        delivery,
        timestamp,
      });
      const text = await again.text();
      assert.equal(again.status, 409, text);
      assert.match(text, /webhook_replayed/);
    }
    assert.equal((await e2e.alice.tickets.list({ project: 'calc' })).length, before.length);
    assert.equal((await e2e.alice.triggers.firings('replays')).length, 1);
    await followTicket(e2e.alice, ticket);
  });

  test('a delivery with the key of an open ticket is merged into it as a comment', async () => {
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let steps = 0;
    const model = e2e.model(async () => {
      // The first ticket stays running until the second delivery was merged.
      if (steps++ === 0) await gate;
      return finish('looked', true);
    });
    const { trigger: keyed, secret: keySecret } = await e2e.alice.triggers.create({
      name: 'keyed',
      project: 'calc',
      template: calcTemplate(model.id),
      webhook: true,
      maxConcurrent: 5,
      dedupeKey: 'issue-{{payload.issue.number}}',
    });
    const send = async (payload: unknown) => {
      const response = await deliver(
        e2e.server.url,
        keyed.id,
        keySecret as string,
        JSON.stringify(payload),
      );
      assert.equal(response.status, 202, await response.clone().text());
      return (
        (await response.json()) as { firing: { status: string; ticket: string; key: string } }
      ).firing;
    };
    const first = await send(issue);
    const second = await send({ issue: { ...issue.issue, body: 'Still broken in 2.0.' } });
    const other = await send({ issue: { ...issue.issue, number: 8 } });
    open();
    assert.deepEqual([first.status, second.status, other.status], ['created', 'merged', 'created']);
    assert.equal(first.key, 'issue-7');
    assert.equal(second.ticket, first.ticket);
    assert.notEqual(other.ticket, first.ticket);
    const events = await followTicket(e2e.alice, first.ticket);
    const comments = events.flatMap((event) => (event.data.type === 'comment' ? [event.data] : []));
    assert.equal(comments.length, 1);
    assert.equal(comments[0]?.author, 'trigger:keyed');
    assert.match(comments[0]?.text ?? '', /Still broken in 2\.0\./);
    await followTicket(e2e.alice, other.ticket);
  });

  test("another owner's trigger is a 404 everywhere; a placeholder in a check is refused at add", async () => {
    for (const call of [
      () => e2e.bob.triggers.get('issues'),
      () => e2e.bob.triggers.get(trigger.id),
      () => e2e.bob.triggers.firings(trigger.id),
      () => e2e.bob.triggers.pause('issues'),
      () => e2e.bob.triggers.fire('issues'),
      () => e2e.bob.triggers.remove('issues'),
    ]) {
      await assert.rejects(call(), (error: { statusCode?: number }) => error.statusCode === 404);
    }
    assert.deepEqual(await e2e.bob.triggers.list(), []);
    const template = calcTemplate('openai:x').replace(
      /check: .*/,
      'check: "echo {{payload.issue.title}}"',
    );
    await assert.rejects(
      e2e.alice.triggers.create({ name: 'evil', project: 'calc', template, webhook: true }),
      (error: { code?: string; message: string }) =>
        error.code === 'template_placeholder' && /criteria\.0\.check/.test(error.message),
    );
    await assert.rejects(
      e2e.alice.triggers.get('evil'),
      (error: { statusCode?: number }) => error.statusCode === 404,
    );
  });
});
