/**
 * The workspace and ticket tools and the resources over `mags server`'s /mcp (the SDK's own
 * client and streamable-HTTP transport): what they call in the API (a sync's store upload, a
 * fork, a job's log, the ticket list) answered in-process with the session's token, as over
 * the network. Their full behaviour is tested in memory (mcp-workspace-tools.test.ts,
 * mcp-resources-prompts.test.ts, mcp-ticket-tools.test.ts); this checks the HTTP path.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Mags } from '../src/sdk/mags.ts';
import { callToolOk, connectMcpOverHttp, toolText } from './helpers/mcp-clients.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping workspace tools and resources over HTTP: ${skip}\n`);

describe('workspace and ticket tools and resources over /mcp', { skip }, () => {
  let server: TestServer;
  let alice: Mags;
  let client: Client;
  let bob: Client;

  const connect = async (token: string) =>
    (await connectMcpOverHttp(server.url, token, 'mcp-http-workspaces-test')).client;

  // Without structured content: {} (as this file always read it), not undefined.
  const ok = async (on: Client, tool: string, args: Record<string, unknown>) =>
    ((await callToolOk(on, tool, args)) as Record<string, unknown> | undefined) ?? {};

  before(async () => {
    server = await startTestServer({ scheduling: { poolSize: 0 } }, { MAGS_DISK: '64M' });
    const aliceClient = await server.client('alice');
    alice = aliceClient.mags;
    client = await connect(aliceClient.token);
    bob = await connect((await server.client('bob')).token);
  });
  after(async () => {
    await client?.close();
    await bob?.close();
    await server?.close();
  });

  test('list, sync, versions and fork a workspace; another owner sees none of it', async () => {
    const made = await alice.runAndWait('echo one > /workspace/a.txt', { workspace: 'app' });
    assert.equal(made.exitCode, 0);
    const listed = await ok(client, 'workspace_list', {});
    assert.deepEqual(
      (listed.workspaces as { name: string }[]).map((workspace) => workspace.name),
      ['app'],
    );
    const synced = await ok(client, 'workspace_sync', { workspace: 'app' });
    assert.equal(synced.version, 1);
    const versions = await ok(client, 'workspace_versions', { workspace: 'app' });
    assert.deepEqual(
      (versions.versions as { version: number }[]).map((version) => version.version),
      [1],
    );
    await ok(client, 'workspace_fork', { source: 'app', name: 'app-try' });
    const copy = await alice.runAndWait('cat /workspace/a.txt', { workspace: 'app-try' });
    assert.equal(copy.stdout, 'one\n');

    const bobs = await ok(bob, 'workspace_list', {});
    assert.deepEqual(bobs.workspaces, []);
    const refused = (await bob.callTool({
      name: 'workspace_sync',
      arguments: { workspace: 'app' },
    })) as CallToolResult;
    assert.equal(refused.isError, true, toolText(refused));
  });

  test("a job's log is a resource read through the session; another owner's is refused", async () => {
    const created = await ok(client, 'sandbox_create', { name: 'logs', ephemeral: true });
    assert.equal((created.sandbox as { name: string }).name, 'logs');
    const ran = await ok(client, 'run_command', {
      sandbox: 'logs',
      command: 'for i in 1 2 3; do echo line-$i; done',
    });
    const uri = String(ran.logUri);
    const { contents } = await client.readResource({ uri });
    assert.equal((contents[0] as { text?: string } | undefined)?.text, 'line-1\nline-2\nline-3\n');
    await assert.rejects(bob.readResource({ uri }));
    await alice.sandboxes.delete('logs');
  });

  test('ticket_list answers the owner its own tickets (none yet)', async () => {
    const listed = await ok(client, 'ticket_list', {});
    assert.deepEqual(listed.tickets, []);
  });
});
