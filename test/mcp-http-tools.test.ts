/**
 * The MCP tools over `mags server`'s /mcp with the SDK's own client and streamable-HTTP
 * transport, on real sandboxes: the shared tool contract (incl. cancellation and progress over
 * HTTP), another owner's sandboxes invisible, 20 clients of 4 owners at once without cross-talk.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Job } from '../src/api/schemas.ts';
import { runMcpToolContract } from './helpers/mcp-tool-contract.ts';
import { waitUntil } from './helpers/server-process.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

/** The SDK's MCP client on `/mcp` of `url` with `token`. */
async function connect(url: string, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'mcp-http-tools-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

/** Ends the session (DELETE /mcp) and the client. */
async function disconnect(client: Client): Promise<void> {
  await (client.transport as StreamableHTTPClientTransport | undefined)?.terminateSession();
  await client.close();
}

const textOf = (result: CallToolResult) =>
  result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');

async function call(
  client: Client,
  tool: string,
  args: Record<string, unknown>,
): Promise<CallToolResult> {
  return (await client.callTool({ name: tool, arguments: args }, undefined, {
    timeout: 180_000,
  })) as CallToolResult;
}

async function succeed(
  client: Client,
  tool: string,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const result = await call(client, tool, args);
  assert.notEqual(result.isError, true, `${tool} failed: ${textOf(result)}`);
  return result.structuredContent as Record<string, unknown>;
}

runMcpToolContract('streamable HTTP (mags server /mcp)', async () => {
  const server = await startTestServer();
  const { token, mags } = await server.client('contract');
  const client = await connect(server.url, token);
  return {
    client,
    mags,
    async close() {
      await disconnect(client);
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
    const client = await connect(server.url, bob.token);
    try {
      const listed = await succeed(client, 'sandbox_list', {});
      const names = (listed.sandboxes as { name: string }[]).map((sandbox) => sandbox.name);
      assert.ok(!names.includes(hidden), `bob sees ${names.join(', ')}`);
      const never = `never-${randomBytes(3).toString('hex')}`;
      const onHidden = await call(client, 'run_command', { sandbox: hidden, command: 'true' });
      const onNever = await call(client, 'run_command', { sandbox: never, command: 'true' });
      assert.equal(onHidden.isError, true, textOf(onHidden));
      assert.equal(onNever.isError, true, textOf(onNever));
      assert.match(textOf(onHidden), /^sandbox_not_found: No sandbox/);
      // The same answer but for the name: nothing tells bob that alice's sandbox exists.
      assert.equal(
        textOf(onHidden).replaceAll(hidden, 'NAME'),
        textOf(onNever).replaceAll(never, 'NAME'),
      );
      const writes = await call(client, 'file_write', {
        sandbox: hidden,
        path: '/workspace/x.txt',
        content: 'from bob',
      });
      assert.equal(writes.isError, true, textOf(writes));
      // And alice's sandbox is untouched: running, without bob's file.
      const listing = await alice.mags.sandboxes.files.list(hidden, '/workspace');
      assert.ok(!listing.entries.some((entry) => entry.name === 'x.txt'));
    } finally {
      await disconnect(client);
      await alice.mags.sandboxes.delete(hidden).catch(() => {});
    }
  });

  test('ending the session (DELETE /mcp) mid-command stops its job', async () => {
    const { token, mags } = await server.client('ivy');
    const name = `ivy-${randomBytes(3).toString('hex')}`;
    await mags.sandboxes.create({ name, ephemeral: true });
    const client = await connect(server.url, token);
    try {
      const pending = call(client, 'run_command', { sandbox: name, command: 'sleep 120' });
      let running: Job | undefined;
      await waitUntil(async () => {
        const { jobs } = await mags.jobs.list({ sandbox: name, status: 'running' });
        running = jobs.find((job) => job.command.join(' ').includes('sleep 120'));
        return running !== undefined;
      }, 30_000);
      const endedAt = Date.now();
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
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
    const tag = randomBytes(3).toString('hex');
    const owners = await Promise.all(
      Array.from({ length: 4 }, async (_, index) => ({
        owner: `many${index}`,
        ...(await server.client(`many${index}`)),
      })),
    );
    const sessions = await Promise.all(
      Array.from({ length: 20 }, async (_, index) => {
        const { owner, token, mags } = owners[index % owners.length] as (typeof owners)[number];
        return {
          owner,
          mags,
          name: `${owner}-${index}-${tag}`,
          client: await connect(server.url, token),
        };
      }),
    );
    try {
      const results = await Promise.allSettled(
        sessions.map(async ({ owner, name, client }) => {
          await succeed(client, 'sandbox_create', { name, ephemeral: true });
          const listed = await succeed(client, 'sandbox_list', {});
          const names = (listed.sandboxes as { name: string }[]).map((sandbox) => sandbox.name);
          assert.ok(names.includes(name), `${name} is listed`);
          const others = names.filter((each) => !each.startsWith(`${owner}-`));
          assert.deepEqual(others, [], `${owner} lists only its own sandboxes`);
          const ran = await succeed(client, 'run_command', {
            sandbox: name,
            command: `echo "I am ${name}"`,
          });
          assert.equal(ran.exitCode, 0, String(ran.output));
          assert.equal(String(ran.output).trim(), `I am ${name}`);
        }),
      );
      const failed = results.flatMap((result, index) =>
        result.status === 'rejected' ? [`${sessions[index]?.name}: ${String(result.reason)}`] : [],
      );
      assert.deepEqual(failed, []);
      // Each owner sees exactly its 5 sandboxes once all are made.
      for (const { owner, mags } of owners) {
        const mine = (await mags.sandboxes.list()).map((sandbox) => sandbox.name).sort();
        const expected = sessions.filter((each) => each.owner === owner).map((each) => each.name);
        assert.deepEqual(mine, expected.sort());
      }
    } finally {
      await Promise.all(
        sessions.map(async ({ mags, name, client }) => {
          await disconnect(client).catch(() => {});
          await mags.sandboxes.delete(name).catch(() => {});
        }),
      );
    }
  });
});
