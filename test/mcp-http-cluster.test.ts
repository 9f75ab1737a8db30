/**
 * /mcp of an API-only server of a cluster (real server processes on one shared state): the
 * session's tools call the API in-process, and what is for a host goes there by the API's own
 * forwarding (its in-process answer, without a Node socket): a sandbox made on the host, a file
 * written into it (a streamed body), a command run in it, the file read back. Another server of
 * the cluster does not know the session (it lives where it was opened) and says so.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createToken } from '../src/server/tokens.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../src/state/state-repository.ts';
import { endServerProcess, startClusterServerProcess } from './helpers/cluster-server-process.ts';
import { callToolOk, connectMcpOverHttp } from './helpers/mcp-clients.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping /mcp in a cluster: ${skip}\n`);

describe('/mcp on an API-only server of a cluster', { skip }, () => {
  const servers: { child: ChildProcess; testHome: TestHome }[] = [];
  let shared: TestHome | undefined;
  let state: StateRepository | undefined;
  let apiUrl = '';
  let hostUrl = '';
  let token = '';

  async function start(hostId: string, stateFile: string, apiOnly: boolean): Promise<string> {
    const testHome = await createTestHome();
    const { child, url } = await startClusterServerProcess({
      home: testHome.home,
      state: stateFile,
      hostId,
      apiOnly,
    });
    servers.push({ child, testHome });
    return url;
  }

  before(async () => {
    shared = await createTestHome();
    const stateFile = join(shared.home, 'shared-state.db');
    state = createSqliteStateRepository(stateFile);
    apiUrl = await start('api-a', stateFile, true);
    hostUrl = await start('host-b', stateFile, false);
    token = (await createToken(state, 'alice', 'test')).token;
  });
  after(async () => {
    for (const server of servers.reverse()) {
      await endServerProcess(server.child, 'SIGTERM');
      await server.testHome.cleanup();
    }
    await state?.close();
    await shared?.cleanup();
  });

  test("the tools reach the host's sandbox through the API server; the host does not know the session", async () => {
    const { client, transport } = await connectMcpOverHttp(apiUrl, token, 'mcp-http-cluster-test');
    const ok = (tool: string, args: Record<string, unknown>) =>
      callToolOk(client, tool, args, 120_000);
    try {
      await ok('sandbox_create', { name: 'dev', ephemeral: true });
      assert.equal((await state?.getSandbox('alice', 'dev'))?.host, 'host-b');
      await ok('file_write', {
        sandbox: 'dev',
        path: '/workspace/hello.js',
        content: "console.log('hello from the host')",
      });
      const ran = await ok('run_command', { sandbox: 'dev', command: ['node', 'hello.js'] });
      assert.equal(ran.exitCode, 0, String(ran.output));
      assert.equal(String(ran.output).trim(), 'hello from the host');
      const read = await ok('file_read', { sandbox: 'dev', path: '/workspace/hello.js' });
      assert.match(String(read.content), /hello from/);

      // The session lives on the API server: the host answers its id with a 404 saying why.
      const elsewhere = await fetch(new URL('/mcp', hostUrl), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': String(transport.sessionId),
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' }),
      });
      assert.equal(elsewhere.status, 404);
      assert.match(await elsewhere.text(), /another server opened it.*Mcp-Session-Id/);
      await ok('sandbox_delete', { name: 'dev' });
    } finally {
      await transport.terminateSession().catch(() => {});
      await client.close();
    }
  });
});
