/**
 * The MCP tools over `mags server`'s /mcp with the SDK's own client and streamable-HTTP
 * transport, on real sandboxes: the shared tool contract (incl. cancellation and progress over
 * HTTP), another owner's sandboxes invisible, 20 clients of 4 owners at once without cross-talk.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Job } from '../src/api/schemas.ts';
import {
  callTool,
  callToolOk,
  connectMcpOverHttp,
  disconnectMcp,
  toolText,
} from './helpers/mcp-clients.ts';
import { assertClientsKeepApart } from './helpers/mcp-clients-apart.ts';
import { runMcpToolContract } from './helpers/mcp-tool-contract.ts';
import { waitUntil } from './helpers/server-process.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

/** Every call's timeout here: a sandbox's first command can take long on a busy machine. */
const timeout = 180_000;

const connect = (url: string, token: string) =>
  connectMcpOverHttp(url, token, 'mcp-http-tools-test');

runMcpToolContract('streamable HTTP (mags server /mcp)', async () => {
  const server = await startTestServer();
  const { token, mags } = await server.client('contract');
  const connection = await connect(server.url, token);
  return {
    client: connection.client,
    mags,
    async close() {
      await disconnectMcp(connection);
      await server.close();
    },
  };
});

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping the MCP-over-HTTP sandbox tests: ${skip}\n`);

describe('MCP tools over HTTP: owners', { skip }, () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.close();
  });

  test("another owner's sandbox is invisible: not listed, and not found exactly like one that never existed", async () => {
    const alice = await server.client('alice');
    const bob = await server.client('bob');
    const hidden = `alice-${randomBytes(3).toString('hex')}`;
    await alice.mags.sandboxes.create({ name: hidden, ephemeral: true });
    const connection = await connect(server.url, bob.token);
    const { client } = connection;
    try {
      const listed = await callToolOk(client, 'sandbox_list', {}, timeout);
      const names = (listed.sandboxes as { name: string }[]).map((sandbox) => sandbox.name);
      assert.ok(!names.includes(hidden), `bob sees ${names.join(', ')}`);
      const never = `never-${randomBytes(3).toString('hex')}`;
      const onHidden = await callTool(
        client,
        'run_command',
        { sandbox: hidden, command: 'true' },
        timeout,
      );
      const onNever = await callTool(
        client,
        'run_command',
        { sandbox: never, command: 'true' },
        timeout,
      );
      assert.equal(onHidden.isError, true, toolText(onHidden));
      assert.equal(onNever.isError, true, toolText(onNever));
      assert.match(toolText(onHidden), /^sandbox_not_found: No sandbox/);
      // The same answer but for the name: nothing tells bob that alice's sandbox exists.
      assert.equal(
        toolText(onHidden).replaceAll(hidden, 'NAME'),
        toolText(onNever).replaceAll(never, 'NAME'),
      );
      const writes = await callTool(
        client,
        'file_write',
        {
          sandbox: hidden,
          path: '/workspace/x.txt',
          content: 'from bob',
        },
        timeout,
      );
      assert.equal(writes.isError, true, toolText(writes));
      // And alice's sandbox is untouched: running, without bob's file.
      const listing = await alice.mags.sandboxes.files.list(hidden, '/workspace');
      assert.ok(!listing.entries.some((entry) => entry.name === 'x.txt'));
    } finally {
      await disconnectMcp(connection);
      await alice.mags.sandboxes.delete(hidden).catch(() => {});
    }
  });

  test('ending the session (DELETE /mcp) mid-command stops its job', async () => {
    const { token, mags } = await server.client('ivy');
    const name = `ivy-${randomBytes(3).toString('hex')}`;
    await mags.sandboxes.create({ name, ephemeral: true });
    const { client, transport } = await connect(server.url, token);
    try {
      const pending = callTool(
        client,
        'run_command',
        { sandbox: name, command: 'sleep 120' },
        timeout,
      );
      let running: Job | undefined;
      await waitUntil(async () => {
        const { jobs } = await mags.jobs.list({ sandbox: name, status: 'running' });
        running = jobs.find((job) => job.command.join(' ').includes('sleep 120'));
        return running !== undefined;
      }, 30_000);
      const endedAt = Date.now();
      await transport.terminateSession();
      let ended: Job | undefined;
      await waitUntil(async () => {
        ended = await mags.jobs.get(String(running?.id));
        return ended.finishedAt !== null;
      }, 30_000);
      assert.equal(ended?.endReason, 'stopped');
      assert.ok(Date.now() - endedAt < 30_000);
      await client.close();
      await assert.rejects(pending);
    } finally {
      await mags.sandboxes.delete(name).catch(() => {});
    }
  });

  test('20 clients of 4 owners at once each create, list and run in their own sandbox, without cross-talk', async () => {
    await assertClientsKeepApart(server, {
      owners: ['many0', 'many1', 'many2', 'many3'],
      connect: (token) => connect(server.url, token),
      disconnect: disconnectMcp,
      timeoutMs: timeout,
    });
  });
});
