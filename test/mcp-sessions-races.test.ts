/**
 * McpSessions' bookkeeping when opening races with failures and shutdown, with the SDK's own
 * McpServer (no tools needed): a server that cannot be made leaves no session counted, and a
 * session initialized after closeAll() began is closed rather than left open and counted; the
 * limits' variables are read as whole numbers, a bad one refused with a hint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { InvalidInputError } from '../src/errors/mags-error.ts';
import { SessionCalls } from '../src/server/mcp-call-slots.ts';
import { mcpSessionLimitsFrom } from '../src/server/mcp-session-limits.ts';
import { McpSessions } from '../src/server/mcp-sessions.ts';
import { maxStreamsPerOwnerFrom } from '../src/server/owner-streams.ts';
import { rawInitializeMessage } from './helpers/mcp-clients.ts';

const initializeBody = rawInitializeMessage('t');

function initializeRequest(): Request {
  return new Request('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify(initializeBody),
  });
}

const newServer = () => new McpServer({ name: 'race', version: '1.0.0' });

test('a createServer that throws leaves neither a session nor a request counted', async () => {
  const sessions = new McpSessions(mcpSessionLimitsFrom({}));
  await assert.rejects(
    sessions.open(
      'alice',
      'token',
      () => {
        throw new Error('no server today');
      },
      initializeRequest(),
      initializeBody,
      new SessionCalls(),
    ),
    /no server today/,
  );
  assert.equal(sessions.count('alice'), 0);
  assert.equal(sessions.calls.count('alice'), 0);
  // The owner can still open its full number of sessions.
  const answer = await sessions.open(
    'alice',
    'token',
    newServer,
    initializeRequest(),
    initializeBody,
    new SessionCalls(),
  );
  assert.equal(answer.status, 200);
  await answer.body?.cancel();
  assert.equal(sessions.count('alice'), 1);
  await sessions.closeAll();
  assert.equal(sessions.count('alice'), 0);
});

test('a session initialized while closeAll() runs is closed, not left open', async () => {
  const sessions = new McpSessions(mcpSessionLimitsFrom({}));
  let closing: Promise<void> | undefined;
  const answer = await sessions.open(
    'bob',
    'token',
    () => {
      // The server begins to stop between the open's checks and its session's initialization.
      closing = sessions.closeAll();
      return newServer();
    },
    initializeRequest(),
    initializeBody,
    new SessionCalls(),
  );
  await closing;
  await answer.body?.cancel().catch(() => {});
  assert.equal(sessions.count('bob'), 0);
  assert.equal(sessions.calls.count('bob'), 0);
});

test('a MAGS_MCP_* or MAGS_MAX_STREAMS_PER_OWNER that is no whole number stops the server with a hint', () => {
  for (const [read, name] of [
    [
      (value: string) => mcpSessionLimitsFrom({ MAGS_MCP_CALLS_PER_SESSION: value }),
      'MAGS_MCP_CALLS_PER_SESSION',
    ],
    [
      (value: string) => maxStreamsPerOwnerFrom({ MAGS_MAX_STREAMS_PER_OWNER: value }),
      'MAGS_MAX_STREAMS_PER_OWNER',
    ],
  ] as const) {
    for (const value of ['0', '1.5', 'many', '-3']) {
      assert.throws(
        () => read(value),
        (error: unknown) =>
          error instanceof InvalidInputError &&
          error.message.includes(`Invalid ${name} ${JSON.stringify(value)}`) &&
          (error.hint ?? '').includes(`Set ${name} to a whole number`),
        `${name}=${value}`,
      );
    }
  }
  assert.equal(mcpSessionLimitsFrom({ MAGS_MCP_CALLS_PER_SESSION: '7' }).maxCallsPerSession, 7);
  assert.equal(maxStreamsPerOwnerFrom({ MAGS_MAX_STREAMS_PER_OWNER: '9' }), 9);
  assert.equal(mcpSessionLimitsFrom({}).maxCallsPerOwner, 64);
});
