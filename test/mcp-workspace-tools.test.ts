/**
 * The MCP workspace tools through the official SDK's MCP Client (linked in memory to
 * `createMcpServer` over an SDK client of a real `mags server` with real sandboxes): list,
 * versions, sync (to the S3 server when it runs, else the filesystem store) and fork of a real
 * workspace; bad arguments and another owner's workspace are tool errors, not protocol errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Mags } from '../src/sdk/mags.ts';
import { type LinkedMcpClient, linkedMcpClient, resultText } from './helpers/mcp-linked-client.ts';
import { s3StoreEnvironment } from './helpers/s3-store-environment.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping MCP workspace tool tests: ${skip}\n`);

describe('MCP workspace tools against a real server', { skip }, () => {
  let server: TestServer;
  let alice: Mags;
  let mcp: LinkedMcpClient;
  let bobMcp: LinkedMcpClient;
  before(async () => {
    const s3 = await s3StoreEnvironment();
    if ('skip' in s3) process.stdout.write(`# syncing to the filesystem store: ${s3.skip}\n`);
    else process.stdout.write(`# syncing to S3 bucket ${s3.MAGS_S3_BUCKET}\n`);
    server = await startTestServer(
      { scheduling: { poolSize: 0 } },
      { MAGS_DISK: '64M', ...('skip' in s3 ? {} : s3) },
    );
    alice = (await server.client('alice')).mags;
    mcp = await linkedMcpClient(alice);
    bobMcp = await linkedMcpClient((await server.client('bob')).mags);
  });
  after(async () => {
    await mcp?.close();
    await bobMcp?.close();
    await server?.close();
  });

  test('the four tools are listed with descriptions and input schemas a model can read', async () => {
    const { tools } = await mcp.client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const name of [
      'workspace_list',
      'workspace_versions',
      'workspace_sync',
      'workspace_fork',
    ]) {
      const tool = byName.get(name);
      assert.ok(tool, `${name} is listed`);
      assert.ok((tool.description ?? '').length > 80, `${name} has a description`);
      assert.equal(tool.inputSchema.type, 'object');
    }
    assert.match(byName.get('workspace_fork')?.description ?? '', /copy-on-write/);
    assert.match(byName.get('workspace_sync')?.description ?? '', /object storage/);
    assert.deepEqual(byName.get('workspace_fork')?.inputSchema.required, ['source', 'name']);
    const nameSchema = byName.get('workspace_sync')?.inputSchema.properties?.workspace as {
      description?: string;
    };
    assert.match(nameSchema.description ?? '', /letters, digits/);
  });

  test('list, sync (a version, then none for no change), versions, fork a real workspace', async () => {
    const made = await alice.runAndWait('echo one > /workspace/a.txt', { workspace: 'app' });
    assert.equal(made.exitCode, 0);

    const listed = await mcp.ok('workspace_list', {});
    assert.match(listed.text, /^app: .*synced version none/m);
    const workspaces = listed.value.workspaces as Array<{ name: string }>;
    assert.deepEqual(
      workspaces.map((workspace) => workspace.name),
      ['app'],
    );

    const none = await mcp.ok('workspace_versions', { workspace: 'app' });
    assert.match(none.text, /no synced versions/);
    assert.deepEqual(none.value.versions, []);

    const synced = await mcp.ok('workspace_sync', { workspace: 'app' });
    // Files and upload apart: the upload (chunks and their framing) can be the larger.
    assert.match(
      synced.text,
      /^Synced "app" as version 1 \(\d+ B of files; [\d.]+ [KM]?i?B uploaded\)\.$/,
    );
    assert.equal(synced.value.message, synced.text, 'the structured value carries the text');
    assert.equal(synced.value.version, 1);
    assert.equal(synced.value.committed, true);
    const again = await mcp.ok('workspace_sync', { workspace: 'app' });
    assert.equal(again.value.committed, false);
    assert.match(again.text, /unchanged since version 1/);

    const versions = await mcp.ok('workspace_versions', { workspace: 'app' });
    assert.deepEqual(
      (versions.value.versions as Array<{ version: number }>).map((version) => version.version),
      [1],
    );
    assert.match(versions.text, /^version 1: /);

    const forked = await mcp.ok('workspace_fork', { source: 'app', name: 'app-try' });
    assert.match(forked.text, /Forked "app" as "app-try"/);
    assert.match(String(forked.value.message), /create a sandbox with workspace "app-try"/);
    const copy = await alice.runAndWait('cat /workspace/a.txt; echo two > /workspace/a.txt', {
      workspace: 'app-try',
    });
    assert.equal(copy.stdout, 'one\n');
    const original = await alice.runAndWait('cat /workspace/a.txt', { workspace: 'app' });
    assert.equal(original.stdout, 'one\n', "the fork's write stays its own");
    const relisted = await mcp.ok('workspace_list', {});
    assert.match(relisted.text, /^app-try: .*forked from app$/m);
  });

  test('bad arguments and refusals are isError results in the API words, never protocol errors', async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      // The SDK's own input validation (the schema): a result, not a thrown error.
      ['workspace_sync', {}, /^MCP error -32602: Input validation error: .*workspace/s],
      ['workspace_fork', { source: 'app' }, /name/],
      ['workspace_versions', { workspace: 42 }, /workspace/],
      // The API's validation and refusals, with their codes.
      // The API's name rule, checked before a request: "." and ".." would be resolved as URL
      // path segments and reach another route.
      ['workspace_sync', { workspace: '../etc' }, /Input validation error: .*workspace name/s],
      ['workspace_sync', { workspace: '.' }, /Input validation error: .*letters, digits/s],
      ['workspace_versions', { workspace: '..' }, /Input validation error: .*workspace name/s],
      ['workspace_fork', { source: 'app', name: '..' }, /Input validation error: .*name/s],
      // Strict inputs: an unknown argument is an error, not silently ignored.
      ['workspace_list', { all: true }, /Input validation error: .*Unrecognized key.*all/s],
      ['workspace_sync', { workspace: 'app', force: true }, /Unrecognized key.*force/s],
      ['workspace_versions', { workspace: 'nope' }, /^workspace_not_found: Workspace "nope" /],
      ['workspace_fork', { source: 'nope', name: 'other' }, /^workspace_not_found: .*"nope"/],
      ['workspace_fork', { source: 'app', name: 'app-try' }, /^[a-z_]+: .*app-try/],
    ];
    for (const [name, args, expected] of cases) {
      const result = await mcp.call(name, args);
      assert.equal(result.isError, true, `${name} ${JSON.stringify(args)}: ${resultText(result)}`);
      assert.match(resultText(result), expected, `${name} ${JSON.stringify(args)}`);
    }
    // Nothing was made by the refused calls.
    const names = ((await mcp.ok('workspace_list', {})).value.workspaces as Array<{ name: string }>)
      .map((workspace) => workspace.name)
      .sort();
    assert.deepEqual(names, ['app', 'app-try']);
  });

  test("another owner's workspace is invisible: not listed, and each tool says not found", async () => {
    const listed = await bobMcp.ok('workspace_list', {});
    assert.deepEqual(listed.value.workspaces, []);
    assert.equal(listed.text, 'No workspaces yet.');
    for (const [name, args] of [
      ['workspace_versions', { workspace: 'app' }],
      ['workspace_sync', { workspace: 'app' }],
      ['workspace_fork', { source: 'app', name: 'stolen' }],
    ] as const) {
      const result = await bobMcp.call(name, args);
      assert.equal(result.isError, true, `${name}: ${resultText(result)}`);
      assert.match(
        resultText(result),
        /^workspace_not_found: Workspace "app" does not exist/,
        name,
      );
    }
  });
});
