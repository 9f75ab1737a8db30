/**
 * `mags server`'s /mcp endpoint over real HTTP with the MCP SDK's own client: bearer tokens,
 * sessions bound to the owner and token that opened them, the per-owner session cap, DELETE,
 * idle sessions closed, many clients at once. Tools that act on sandboxes: mcp-http-tools.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { revokeToken } from '../src/server/tokens.ts';
import { connectMcpOverHttp, disconnectMcp, rawInitializeMessage } from './helpers/mcp-clients.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const maxSessionsPerOwner = 3;
const idleTimeoutSeconds = 2;

/** An MCP client of `/mcp` with `token` (none: no Authorization header). */
const connect = (url: string, token: string | undefined) =>
  connectMcpOverHttp(url, token, 'mcp-http-sessions-test');

/** A raw JSON-RPC POST to /mcp, as a client that is not the SDK would send it. */
function post(
  url: string,
  token: string | undefined,
  body: unknown,
  sessionId?: string,
): Promise<Response> {
  return fetch(new URL('/mcp', url), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
    },
    body: JSON.stringify(body),
  });
}

/** A request every session answers, whatever tools it has. */
const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };

describe('/mcp sessions over HTTP', () => {
  let server: TestServer;
  const environmentBefore = { ...process.env };

  before(async () => {
    // The limits are read from the server's environment when it makes its app.
    process.env.MAGS_MCP_SESSIONS_PER_OWNER = String(maxSessionsPerOwner);
    process.env.MAGS_MCP_IDLE_TIMEOUT_SECONDS = String(idleTimeoutSeconds);
    server = await startTestServer();
  });
  after(async () => {
    process.env = environmentBefore;
    await server?.close();
  });

  test('no token, a malformed one and an unknown one are refused with 401 and WWW-Authenticate', async () => {
    for (const token of [undefined, 'not-a-token', `mags_${'x'.repeat(32)}`]) {
      await assert.rejects(connect(server.url, token), (error: unknown) => {
        assert.ok(error instanceof StreamableHTTPError, String(error));
        assert.equal(error.code, 401);
        return true;
      });
      const answer = await post(server.url, token, rawInitializeMessage());
      assert.equal(answer.status, 401);
      assert.equal(answer.headers.get('www-authenticate'), 'Bearer');
      const body = (await answer.json()) as { error: { code: string; hint?: string } };
      assert.equal(body.error.code, 'unauthorized'); // the same answer as /v1's
      assert.equal(server.server.services.mcpSessions?.count('alice'), 0);
    }
  });

  test("a session answers only its own owner's token: another's id is the same 404 as an unknown one", async () => {
    const alice = await server.client('alice');
    const aliceOtherToken = await server.client('alice');
    const bob = await server.client('bob');
    const { client, transport } = await connect(server.url, alice.token);
    try {
      const sessionId = transport.sessionId;
      assert.ok(sessionId);
      assert.deepEqual(await client.ping(), {});
      const unknown = await post(server.url, bob.token, ping, crypto.randomUUID());
      const stolen = await post(server.url, bob.token, ping, sessionId);
      const otherToken = await post(server.url, aliceOtherToken.token, ping, sessionId);
      assert.equal(unknown.status, 404);
      assert.equal(stolen.status, 404);
      assert.equal(otherToken.status, 404);
      const unknownBody = await unknown.text();
      assert.equal(await stolen.text(), unknownBody);
      assert.equal(await otherToken.text(), unknownBody);
      assert.match(unknownBody, /Session not found.*Mcp-Session-Id/);
      // The owner's own session still works after the attempts.
      assert.deepEqual(await client.ping(), {});
    } finally {
      await disconnectMcp({ client, transport });
    }
  });

  test("a revoked token's session answers no more: 401", async () => {
    const { token, tokenId } = await server.client('hank');
    const { client, transport } = await connect(server.url, token);
    assert.deepEqual(await client.ping(), {});
    await revokeToken(server.server.services.repository, tokenId);
    const answer = await post(server.url, token, ping, transport.sessionId);
    assert.equal(answer.status, 401);
    assert.match(await answer.text(), /revoked/);
    await client.close();
  });

  test('without a session id only initialize is answered, and nothing is opened', async () => {
    const { token } = await server.client('carol');
    const answer = await post(server.url, token, ping);
    assert.equal(answer.status, 400);
    assert.match(await answer.text(), /only an initialize request opens a session/);
    const notJson = await fetch(new URL('/mcp', server.url), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: '{"jsonrpc": ',
    });
    assert.equal(notJson.status, 400);
    assert.match(await notJson.text(), /Parse error/);
    assert.equal(server.server.services.mcpSessions?.count('carol'), 0);
  });

  test('an initialize the transport refuses (no text/event-stream in Accept) leaves no session', async () => {
    const { token } = await server.client('ivan');
    const answer = await fetch(new URL('/mcp', server.url), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify(rawInitializeMessage()),
    });
    assert.equal(answer.status, 406);
    assert.equal(answer.headers.get('mcp-session-id'), null);
    assert.equal(server.server.services.mcpSessions?.count('ivan'), 0);
  });

  test('a body over the /mcp limit (8 MiB) is a 413', async () => {
    const { token } = await server.client('carol');
    const { client, transport } = await connect(server.url, token);
    try {
      const big = 'x'.repeat(server.server.services.mcpSessions?.limits.maxBodyBytes ?? 0);
      const answer = await post(
        server.url,
        token,
        { ...ping, params: { padding: big } },
        transport.sessionId,
      );
      assert.equal(answer.status, 413);
      assert.deepEqual(await client.ping(), {});
    } finally {
      await disconnectMcp({ client, transport });
    }
  });

  test('an owner holds at most the session cap; a 429 says why; DELETE frees a slot', async () => {
    const { token } = await server.client('dave');
    const other = await server.client('erin');
    const open = [];
    for (let index = 0; index < maxSessionsPerOwner; index++) {
      open.push(await connect(server.url, token));
    }
    assert.equal(server.server.services.mcpSessions?.count('dave'), maxSessionsPerOwner);
    await assert.rejects(connect(server.url, token), (error: unknown) => {
      assert.ok(error instanceof StreamableHTTPError, String(error));
      assert.equal(error.code, 429);
      assert.match(error.message, /already has 3 MCP sessions open.*DELETE \/mcp/);
      return true;
    });
    // Another owner is not held back by dave's sessions.
    const erin = await connect(server.url, other.token);
    await disconnectMcp(erin);
    // DELETE ends the session: its id is a 404 from then on, and its slot is free.
    const first = open.shift();
    assert.ok(first);
    const endedId = first.transport.sessionId;
    await disconnectMcp(first);
    assert.equal(server.server.services.mcpSessions?.count('dave'), maxSessionsPerOwner - 1);
    assert.equal((await post(server.url, token, ping, endedId)).status, 404);
    open.push(await connect(server.url, token));
    for (const connection of open) await disconnectMcp(connection);
    assert.equal(server.server.services.mcpSessions?.count('dave'), 0);
  });

  test('an idle session is closed after the timeout; one in use is not', async () => {
    const { token } = await server.client('frank');
    const idle = await connect(server.url, token);
    const busy = await connect(server.url, token);
    const until = Date.now() + idleTimeoutSeconds * 1000 + 1500;
    while (Date.now() < until) {
      await busy.client.ping();
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert.equal(server.server.services.mcpSessions?.count('frank'), 1);
    assert.equal((await post(server.url, token, ping, idle.transport.sessionId)).status, 404);
    assert.deepEqual(await busy.client.ping(), {});
    await disconnectMcp(busy);
    await idle.client.close();
  });

  test('20 clients of 20 owners connect and ping at once', async () => {
    const clients = await Promise.all(
      Array.from({ length: 20 }, async (_, index) => {
        const { token } = await server.client(`owner${index}`);
        return connect(server.url, token);
      }),
    );
    try {
      const answers = await Promise.all(clients.map(({ client }) => client.ping()));
      assert.deepEqual(
        answers,
        Array.from({ length: 20 }, () => ({})),
      );
      assert.equal(new Set(clients.map(({ transport }) => transport.sessionId)).size, 20);
    } finally {
      await Promise.all(clients.map(disconnectMcp));
    }
  });

  test('the server stopping closes every session', async () => {
    const own = await startTestServer();
    const { token } = await own.client('gina');
    const { client, transport } = await connect(own.url, token);
    assert.equal(own.server.services.mcpSessions?.count('gina'), 1);
    await own.close();
    assert.equal(own.server.services.mcpSessions?.count('gina'), 0);
    await client.close();
    assert.ok(transport.sessionId);
  });
});
