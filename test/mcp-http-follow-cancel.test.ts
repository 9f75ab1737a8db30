/**
 * A followed ticket's events cancelled over /mcp: the session's tool reads the API in-process,
 * and cancelling must end that API stream as a client's abort ends a real HTTP one, so the
 * owner's long-lived stream is released at once (not held until the ticket next changes), and
 * the ticket runs on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type EndToEndServer, finish, startEndToEndServer } from './helpers/end-to-end-tickets.ts';
import { connectMcpOverHttp } from './helpers/mcp-clients.ts';
import { waitUntil } from './helpers/server-process.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping a followed ticket cancelled over /mcp: ${skip}\n`);

describe('a ticket follow over /mcp', { skip }, () => {
  let e2e: EndToEndServer;
  before(async () => {
    e2e = await startEndToEndServer();
  });
  after(async () => {
    await e2e?.close();
  });

  test("cancelled by the client, its API stream ends at once and frees the owner's slot", async () => {
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The first step waits until the test releases it: the ticket runs, with no new events.
    const slow = e2e.model(async (step) => {
      if (step === 0) await held;
      return step === 0 ? { text: 'thinking' } : finish('done', false);
    });
    const created = await e2e.alice.tickets.create(e2e.body(slow.id));
    const { client, transport } = await connectMcpOverHttp(
      e2e.server.url,
      e2e.aliceToken,
      'mcp-http-follow-test',
    );
    const streams = e2e.server.server.services.streams;
    assert.ok(streams);
    try {
      const openBefore = streams.count('alice');
      const cancel = new AbortController();
      const progress: number[] = [];
      const following = client.callTool(
        { name: 'ticket_events', arguments: { ticketId: created.id, follow: true } },
        undefined,
        { signal: cancel.signal, onprogress: (update) => progress.push(update.progress) },
      );
      await waitUntil(async () => progress.length > 0, 30_000);
      assert.equal(streams.count('alice'), openBefore + 1, 'the follow holds one stream');
      cancel.abort('the user moved on');
      await assert.rejects(following, /moved on|abort/i);
      await waitUntil(async () => streams.count('alice') === openBefore, 5_000);
      assert.equal((await e2e.alice.tickets.get(created.id)).status, 'running');
    } finally {
      release?.();
      await transport.terminateSession().catch(() => {});
      await client.close();
    }
  });
});
