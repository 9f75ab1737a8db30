/**
 * Twenty agents at once over stdio: each spawns its own `mags mcp` (the built CLI, as an agent's
 * config does) against one real `mags server`, for four owners (five each: under the per-owner
 * cap of 8 running jobs). Each makes its own sandbox, lists, and runs a command there; no answer
 * may reach another client, and no owner may see another's sandboxes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { packageRoot } from '../src/config/package-paths.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping the concurrent stdio MCP test: ${skip}\n`);

async function spawnMcp(server: TestServer, token: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(packageRoot(), 'bin', 'mags.js'), 'mcp'],
    env: {
      ...(process.env as Record<string, string>),
      MAGS_HOME: server.testHome.home,
      MAGS_URL: server.url,
      MAGS_API_TOKEN: token,
      XDG_CONFIG_HOME: join(server.testHome.home, 'config'),
    },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'mags-stdio-many', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

function textOf(result: CallToolResult): string {
  return result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
}

async function succeed(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  assert.notEqual(result.isError, true, `${name} failed: ${textOf(result)}`);
  return result.structuredContent as Record<string, unknown>;
}

describe('MCP over stdio, 20 clients at once', { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.close();
  });

  test('20 mags mcp processes of 4 owners each create, list and run in their own sandbox, without cross-talk', async () => {
    const tag = randomBytes(3).toString('hex');
    const owners = await Promise.all(
      ['stdio-a', 'stdio-b', 'stdio-c', 'stdio-d'].map(async (owner) => ({
        owner,
        ...(await server.client(owner)),
      })),
    );
    const agents = await Promise.all(
      Array.from({ length: 20 }, async (_, index) => {
        const { owner, token, mags } = owners[index % owners.length] as (typeof owners)[number];
        return {
          owner,
          mags,
          name: `${owner}-${index}-${tag}`,
          client: await spawnMcp(server, token),
        };
      }),
    );
    try {
      const results = await Promise.allSettled(
        agents.map(async ({ owner, name, client }) => {
          await succeed(client, 'sandbox_create', { name, ephemeral: true });
          const listed = await succeed(client, 'sandbox_list', {});
          const names = (listed.sandboxes as { name: string }[]).map((sandbox) => sandbox.name);
          assert.ok(names.includes(name), `${name} is listed`);
          assert.deepEqual(
            names.filter((each) => !each.startsWith(`${owner}-`)),
            [],
            `${owner} lists only its own sandboxes`,
          );
          const ran = await succeed(client, 'run_command', {
            sandbox: name,
            command: `echo "I am ${name}"`,
          });
          assert.equal(ran.exitCode, 0, JSON.stringify(ran));
          assert.equal(String(ran.output).trim(), `I am ${name}`);
        }),
      );
      const failed = results.flatMap((result, index) =>
        result.status === 'rejected' ? [`${agents[index]?.name}: ${String(result.reason)}`] : [],
      );
      assert.deepEqual(failed, []);
      for (const { owner, mags } of owners) {
        const mine = (await mags.sandboxes.list()).map((sandbox) => sandbox.name).sort();
        const expected = agents.filter((each) => each.owner === owner).map((each) => each.name);
        assert.deepEqual(mine, expected.sort());
      }
    } finally {
      await Promise.all(
        agents.map(async ({ mags, name, client }) => {
          await client.close().catch(() => {});
          await mags.sandboxes.delete(name).catch(() => {});
        }),
      );
    }
  });
});
