/**
 * The limits of `mags server`'s /mcp over real HTTP: Origin checked (403, a DNS-rebound Host
 * too), requests in flight capped per session and per owner (each request of a batch counting;
 * a cancellation passes at the cap), bodies being read bounded apart, a request id already in
 * flight refused, a session its client left without DELETE closed when the owner needs its slot
 * (5 s after an open never finished, 2 min after a handshake), and a file_write of the largest
 * content over /mcp.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectMcpOverHttp, disconnectMcp, rawInitializeMessage } from './helpers/mcp-clients.ts';
import { waitUntil } from './helpers/server-process.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const maxSessionsPerOwner = 2;
const maxCallsPerSession = 3;
const maxCallsPerOwner = 4;
const allowedOrigin = 'http://inspector.example:6274';

const connect = (url: string, token: string) =>
  connectMcpOverHttp(url, token, 'mcp-http-limits-test');

/** A raw POST to /mcp; `body` may be a stream the test feeds slowly. */
function post(
  url: string,
  token: string,
  body: unknown,
  options: { sessionId?: string; origin?: string; stream?: ReadableStream<Uint8Array> } = {},
): Promise<Response> {
  return fetch(new URL('/mcp', url), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
      'mcp-protocol-version': '2025-06-18',
      ...(options.sessionId ? { 'mcp-session-id': options.sessionId } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
    },
    body: options.stream ?? JSON.stringify(body),
    ...(options.stream ? { duplex: 'half' } : {}),
  } as RequestInit);
}

const initialize = rawInitializeMessage();

/** A session opened with raw requests (no GET stream): its id. */
async function openRaw(url: string, token: string): Promise<string> {
  const answer = await post(url, token, initialize);
  assert.equal(answer.status, 200, await answer.clone().text());
  const sessionId = answer.headers.get('mcp-session-id');
  assert.ok(sessionId);
  await answer.text();
  const initialized = await post(
    url,
    token,
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { sessionId },
  );
  assert.equal(initialized.status, 202);
  return sessionId;
}

/** A POST whose body arrives only when `finish` is called: it holds a slot while read. */
function slowPost(url: string, token: string, sessionId: string, id: number) {
  let feed: ReadableStreamDefaultController<Uint8Array> | undefined;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      feed = controller;
      controller.enqueue(new TextEncoder().encode('{"jsonrpc":"2.0",'));
    },
  });
  const answer = post(url, token, undefined, { sessionId, stream });
  return {
    answer,
    finish() {
      feed?.enqueue(new TextEncoder().encode(`"id":${id},"method":"ping"}`));
      feed?.close();
    },
  };
}

/** A raw initialize with the Host header given (what a DNS-rebound page sends): its status and session. */
function initializeWithHost(url: string, token: string, host: string, origin: string) {
  const target = new URL('/mcp', url);
  return new Promise<{ status: number; sessionId: string }>((resolve, reject) => {
    const sent = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: {
          host,
          origin,
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
      },
      (answer) => {
        answer.resume();
        const sessionId = answer.headers['mcp-session-id'];
        resolve({ status: answer.statusCode ?? 0, sessionId: String(sessionId ?? '') });
      },
    );
    sent.on('error', reject);
    sent.end(JSON.stringify(initialize));
  });
}

const pings = (count: number, from = 10) =>
  Array.from({ length: count }, (_, index) => ({
    jsonrpc: '2.0',
    id: from + index,
    method: 'ping',
  }));

describe('/mcp limits over HTTP', () => {
  let server: TestServer;
  const environmentBefore = { ...process.env };

  before(async () => {
    process.env.MAGS_MCP_SESSIONS_PER_OWNER = String(maxSessionsPerOwner);
    process.env.MAGS_MCP_CALLS_PER_SESSION = String(maxCallsPerSession);
    process.env.MAGS_MCP_CALLS_PER_OWNER = String(maxCallsPerOwner);
    process.env.MAGS_MCP_ALLOWED_ORIGINS = `${allowedOrigin}, http://other.example`;
    server = await startTestServer();
  });
  after(async () => {
    process.env = environmentBefore;
    await server?.close();
  });

  const sessions = () => {
    const found = server.server.services.mcpSessions;
    assert.ok(found);
    return found;
  };

  test('an Origin other than the server and the allowed ones is a 403; none, own and allowed pass', async () => {
    const { token } = await server.client('olga');
    for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1.evil.example']) {
      const answer = await post(server.url, token, initialize, { origin });
      assert.equal(answer.status, 403, origin);
      const body = (await answer.json()) as { error: { code: string; hint: string } };
      assert.equal(body.error.code, 'origin_not_allowed');
      assert.match(body.error.hint, /MAGS_MCP_ALLOWED_ORIGINS=/);
    }
    assert.equal(sessions().count('olga'), 0);
    // DNS rebinding: the page's name resolves to this server, so Host and Origin are both its.
    const { port } = new URL(server.url);
    const rebound = `evil.example:${port}`;
    const refused = await initializeWithHost(server.url, token, rebound, `http://${rebound}`);
    assert.equal(refused.status, 403);
    assert.equal(sessions().count('olga'), 0);
    // The same Origin/Host pair at localhost is this server's own page.
    const local = `localhost:${port}`;
    const answered = await initializeWithHost(server.url, token, local, `http://${local}`);
    assert.equal(answered.status, 200);
    await fetch(new URL('/mcp', server.url), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}`, 'mcp-session-id': answered.sessionId },
    });
    const own = new URL(server.url).origin;
    for (const origin of [own, allowedOrigin]) {
      const answer = await post(server.url, token, initialize, { origin });
      assert.equal(answer.status, 200, origin);
      const sessionId = answer.headers.get('mcp-session-id');
      await answer.text();
      await fetch(new URL('/mcp', server.url), {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sessionId ?? '' },
      });
    }
    assert.equal(sessions().count('olga'), 0);
  });

  test('a batch over the per-session cap is a 429 before anything runs; one within it is answered', async () => {
    const { token } = await server.client('pia');
    const sessionId = await openRaw(server.url, token);
    const refused = await post(server.url, token, pings(maxCallsPerSession + 1), { sessionId });
    assert.equal(refused.status, 429);
    const body = (await refused.json()) as {
      error: { code: string; message: string; hint: string };
    };
    assert.equal(body.error.code, 'session_limit_reached');
    assert.match(body.error.hint, /MAGS_MCP_CALLS_PER_SESSION/);
    const answered = await post(server.url, token, pings(maxCallsPerSession), { sessionId });
    assert.equal(answered.status, 200);
    const text = await answered.text();
    for (let id = 10; id < 10 + maxCallsPerSession; id++)
      assert.match(text, new RegExp(`"id":${id}`));
    await waitUntil(async () => sessions().calls.count('pia') === 0, 5000);
  });

  test('bodies still being read are bounded apart: two per session; they hold no call slot', async () => {
    const { token } = await server.client('quinn');
    const first = await openRaw(server.url, token);
    const second = await openRaw(server.url, token);
    const held = [slowPost(server.url, token, first, 20), slowPost(server.url, token, first, 21)];
    await waitUntil(async () => sessions().calls.reading('quinn') === 2, 5000);
    const refused = await post(server.url, token, pings(1), { sessionId: first });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    const body = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'session_limit_reached');
    assert.match(body.error.message, /already has 2 POST bodies still arriving/);
    // They are no requests in flight: the owner's other session calls up to its cap.
    assert.equal(sessions().calls.count('quinn'), 0);
    const answered = await post(server.url, token, pings(maxCallsPerSession), {
      sessionId: second,
    });
    assert.equal(answered.status, 200);
    await answered.text();
    for (const one of held) one.finish();
    for (const one of held) assert.equal((await one.answer).status, 200);
    await waitUntil(async () => sessions().calls.reading('quinn') === 0, 5000);
    await waitUntil(async () => sessions().calls.count('quinn') === 0, 5000);
    assert.equal((await post(server.url, token, pings(1), { sessionId: first })).status, 200);
  });

  test('a session that never finished its handshake makes room at the cap after 5 s', async () => {
    const { token } = await server.client('sid');
    const kept = await connect(server.url, token);
    // Opened and left at once: no notifications/initialized, no GET stream, no DELETE.
    const opened = await post(server.url, token, initialize);
    assert.equal(opened.status, 200);
    const leftId = opened.headers.get('mcp-session-id') ?? '';
    await opened.text();
    await assert.rejects(connect(server.url, token), /owner_limit_reached/);
    await new Promise((resolve) => setTimeout(resolve, 5500));
    const next = await connect(server.url, token);
    assert.equal((await post(server.url, token, pings(1), { sessionId: leftId })).status, 404);
    for (const connection of [kept, next]) await disconnectMcp(connection);
    assert.equal(sessions().count('sid'), 0);
  });

  test('a session its client closed without DELETE makes room at the cap; one with a stream open does not', async () => {
    const { token } = await server.client('sam');
    const kept = await connect(server.url, token);
    const left = await connect(server.url, token);
    const leftId = left.transport.sessionId;
    await left.client.close(); // no DELETE: only its GET stream ends
    // A client past its handshake may think a while without a stream: not evicted after 5 s.
    await new Promise((resolve) => setTimeout(resolve, 5500));
    await assert.rejects(connect(server.url, token), /owner_limit_reached.*120 s/s);
    assert.equal(sessions().limits.evictAfterMs, 120_000);
    // Its 2 min made short here (the same server, limits read at each eviction).
    sessions().limits.evictAfterMs = 1000;
    const next = await connect(server.url, token);
    assert.equal(sessions().count('sam'), maxSessionsPerOwner);
    assert.equal((await post(server.url, token, pings(1), { sessionId: leftId })).status, 404);
    assert.deepEqual(await kept.client.ping(), {});
    // Both left have their GET stream open: a third is refused, with a hint that names DELETE.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await assert.rejects(connect(server.url, token), /owner_limit_reached.*terminateSession/s);
    for (const connection of [kept, next]) await disconnectMcp(connection);
    assert.equal(sessions().count('sam'), 0);
    sessions().limits.evictAfterMs = 120_000;
  });
});

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping the /mcp limit tests on a sandbox: ${skip}\n`);

describe('/mcp limits on a sandbox', { skip }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.close();
  });

  test('a request id already in flight in the session is refused; the first call still cancels', async () => {
    const { token, mags } = await server.client('tess');
    const { client, transport } = await connect(server.url, token);
    try {
      const created = (await client.callTool({
        name: 'sandbox_create',
        arguments: { name: 'ids' },
      })) as CallToolResult;
      assert.notEqual(created.isError, true, JSON.stringify(created.content));
      const sessionId = await openRaw(server.url, token);
      const call = (id: number) => ({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'run_command', arguments: { sandbox: 'ids', command: 'sleep 60' } },
      });
      const first = await post(server.url, token, call(7), { sessionId });
      assert.equal(first.status, 200);
      await waitUntil(
        async () => (await mags.jobs.list()).jobs.some((job) => job.status === 'running'),
        30_000,
      );
      const again = await post(server.url, token, call(7), { sessionId });
      assert.equal(again.status, 400);
      const body = (await again.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'request_id_in_flight');
      // The first call is still the one cancellation reaches: its job stops.
      const cancelled = await post(
        server.url,
        token,
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7 } },
        { sessionId },
      );
      assert.equal(cancelled.status, 202);
      await waitUntil(
        async () => !(await mags.jobs.list()).jobs.some((job) => job.status === 'running'),
        30_000,
      );
      await first.body?.cancel();
      await waitUntil(
        async () => server.server.services.mcpSessions?.calls.count('tess') === 0,
        5000,
      );
    } finally {
      await disconnectMcp({ client, transport });
    }
  });

  test('file_write of the largest content, 6 bytes a character in JSON, fits the /mcp body', async () => {
    const { token } = await server.client('uma');
    const { client, transport } = await connect(server.url, token);
    try {
      await client.callTool({ name: 'sandbox_create', arguments: { name: 'big' } });
      const content = '\u0001'.repeat(1_048_576);
      assert.ok(JSON.stringify(content).length > 6 * 1024 * 1024);
      const written = (await client.callTool(
        { name: 'file_write', arguments: { sandbox: 'big', path: '/workspace/big.txt', content } },
        undefined,
        { timeout: 120_000 },
      )) as CallToolResult;
      assert.notEqual(written.isError, true, JSON.stringify(written.content));
      assert.equal((written.structuredContent as { sizeBytes: number }).sizeBytes, 1_048_576);
    } finally {
      await disconnectMcp({ client, transport });
    }
  });
});

describe('/mcp a session at its cap on a sandbox', { skip }, () => {
  let server: TestServer;
  const environmentBefore = { ...process.env };

  before(async () => {
    process.env.MAGS_MCP_CALLS_PER_SESSION = '1';
    server = await startTestServer();
  });
  after(async () => {
    process.env = environmentBefore;
    await server?.close();
  });

  test('its one run_command in flight is still cancelled: the job stops, the slot is free', async () => {
    const { token, mags } = await server.client('vera');
    const { client, transport } = await connect(server.url, token);
    const errors: string[] = [];
    client.onerror = (error) => errors.push(String(error));
    try {
      const created = (await client.callTool({
        name: 'sandbox_create',
        arguments: { name: 'cap' },
      })) as CallToolResult;
      assert.notEqual(created.isError, true, JSON.stringify(created.content));
      const cancel = new AbortController();
      const running = client.callTool(
        { name: 'run_command', arguments: { sandbox: 'cap', command: 'sleep 60' } },
        undefined,
        { signal: cancel.signal, timeout: 120_000 },
      );
      await waitUntil(
        async () => (await mags.jobs.list()).jobs.some((job) => job.status === 'running'),
        30_000,
      );
      assert.equal(server.server.services.mcpSessions?.calls.count('vera'), 1);
      cancel.abort('the user moved on');
      await assert.rejects(running, /moved on/);
      await waitUntil(
        async () => !(await mags.jobs.list()).jobs.some((job) => job.status === 'running'),
        30_000,
      );
      await waitUntil(
        async () => server.server.services.mcpSessions?.calls.count('vera') === 0,
        5000,
      );
      assert.deepEqual(errors, []);
    } finally {
      await disconnectMcp({ client, transport });
    }
  });
});
