/**
 * Long-lived answers (followed lists and events, job logs, pool samples, the shell's WebSocket)
 * count against a per-owner limit while they last: one more is a 429 with a hint, another
 * owner is not affected, and a stream frees its slot when its client goes away or it ends. The
 * shell's handshake selects `mags-shell`, never the token a browser offers beside it. In-process
 * app on the fake runtime; the WebSocket test serves it on a loopback port.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import { createTestApp, type TestApp } from './helpers/test-app.ts';

/** The `ws` package's client (no type declarations here: only what this test uses). */
interface WsClient {
  protocol: string;
  once(event: 'open' | 'close', listener: () => void): void;
  once(event: 'error', listener: (error: Error) => void): void;
  close(): void;
  terminate(): void;
}
const WebSocketClient = createRequire(import.meta.url)('ws') as new (
  url: string,
  protocols: string[],
) => WsClient;

const limit = 3;

describe('open streams per owner', () => {
  let api: TestApp;
  let alice: string;
  let bob: string;
  let job: string;
  /** Open bodies to cancel after each test. */
  const open: Response[] = [];
  const stream = async (token: string, path: string) => {
    const response = await api.request(token, 'GET', path);
    if (response.status === 200) open.push(response);
    return response;
  };
  const closeAll = async () => {
    for (const response of open.splice(0)) await response.body?.cancel();
  };

  before(async () => {
    api = await createTestApp({ maxStreamsPerOwner: limit });
    alice = (await api.token('alice')).token;
    bob = (await api.token('bob')).token;
    const created = await api.request(alice, 'POST', '/v1/jobs', { command: 'true' });
    job = ((await created.json()) as { id: string }).id;
    // Its followed log ends once the job has.
    const logs = await api.request(alice, 'GET', `/v1/jobs/${job}/logs?follow=true`);
    await logs.text();
  });
  after(async () => {
    await closeAll();
    await api.close();
  });

  test('one more than the limit is a 429 with a hint; bob is unaffected; closing one frees it', async () => {
    try {
      for (const path of ['/v1/pool/events', '/v1/tickets?follow=true', '/v1/jobs?follow=true']) {
        assert.equal((await stream(alice, path)).status, 200, path);
      }
      const refused = await stream(alice, '/v1/sandboxes?follow=true');
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      const { error } = (await refused.json()) as { error: { code: string; hint?: string } };
      assert.equal(error.code, 'owner_limit_reached');
      assert.match(error.hint ?? '', /Close streams/);
      // Answers that end at once are not counted.
      assert.equal((await api.request(alice, 'GET', '/v1/tickets')).status, 200);
      const log = await api.request(alice, 'GET', `/v1/jobs/${job}/logs`);
      assert.equal(log.status, 200);
      await log.text();
      assert.equal((await stream(bob, '/v1/pool/events')).status, 200, 'bob has his own');

      await open[0]?.body?.cancel(); // alice's client goes away
      open.shift();
      assert.equal((await stream(alice, '/v1/sandboxes?follow=true')).status, 200);
      assert.equal((await stream(alice, '/v1/plans/nope/events?follow=true')).status, 429);
    } finally {
      await closeAll();
    }
  });

  test('a stream that ends, or is refused before it starts, holds nothing', async () => {
    try {
      await stream(alice, '/v1/pool/events');
      await stream(alice, '/v1/pool/events');
      for (let attempt = 0; attempt < limit + 1; attempt++) {
        const missing = await stream(alice, '/v1/tickets?follow=true&project=nope');
        assert.equal(missing.status, 404);
        await missing.text();
        const ended = await stream(alice, `/v1/jobs/${job}/logs?follow=true`);
        assert.equal(ended.status, 200);
        assert.match(await ended.text(), /event: end/); // read to its end: released
        open.pop();
      }
      assert.equal((await stream(alice, '/v1/tickets?follow=true')).status, 200);
      assert.equal((await stream(alice, '/v1/tickets?follow=true')).status, 429);
    } finally {
      await closeAll();
    }
  });

  test('the shell selects mags-shell, never the offered token, and counts while it is open', async () => {
    const created = await api.request(alice, 'POST', '/v1/sandboxes', { name: 'tty' });
    assert.equal(created.status, 201, await created.text());
    // The fake runtime has no terminals: a shell that is still starting keeps the socket open.
    const { sandboxes } = api.services;
    const openShell = sandboxes.openShell;
    sandboxes.openShell = () => new Promise(() => {});
    const server = serve({ fetch: api.app.fetch, hostname: '127.0.0.1', port: 0 });
    api.injectWebSocket(server);
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    let socket: WsClient | undefined;
    try {
      socket = new WebSocketClient(`ws://127.0.0.1:${port}/v1/sandboxes/tty/shell`, [
        `mags-token.${alice}`,
        'mags-shell',
      ]);
      const opened = socket;
      const closed = new Promise<void>((resolve) => opened.once('close', resolve));
      await new Promise<void>((resolve, reject) => {
        opened.once('open', resolve);
        opened.once('error', reject);
      });
      assert.equal(socket.protocol, 'mags-shell');
      await stream(alice, '/v1/pool/events');
      await stream(alice, '/v1/pool/events');
      assert.equal((await stream(alice, '/v1/pool/events')).status, 429, 'the shell counts');
      socket.close();
      await closed;
      // The server lets go of the slot once the connection has closed on its side too.
      let status = 429;
      for (let attempt = 0; attempt < 100 && status === 429; attempt++) {
        status = (await stream(alice, '/v1/pool/events')).status;
        if (status === 429) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(status, 200);
    } finally {
      socket?.terminate();
      sandboxes.openShell = openShell;
      await closeAll();
      (server as Server).closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
