/**
 * The inputs of the sandbox and command tools as a real MCP client sees them: strict (an unknown
 * argument is a tool error, not silently ignored), sandbox names with the API's rule ("." and
 * ".." refused), a missing command said plainly. Every call here fails its input schema, so
 * the mags client behind the server is never reached (it points at a closed port).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createMcpServer } from '../src/mcp/create-mcp-server.ts';
import { Mags } from '../src/sdk/mags.ts';

let client: Client;
let closeServer: () => Promise<void>;

before(async () => {
  const server = createMcpServer(new Mags({ url: 'http://127.0.0.1:9', token: 'unused' }));
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  client = new Client({ name: 'tool-inputs-test', version: '1.0.0' });
  await client.connect(clientTransport);
  closeServer = () => server.close();
});
after(async () => {
  await client.close();
  await closeServer();
});

const failure = async (name: string, args: Record<string, unknown>) => {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  assert.equal(result.isError, true, `${name} ${JSON.stringify(args)} should fail`);
  return result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
};

test('an unknown argument is a tool error naming it, for every sandbox and command tool', async () => {
  const calls: [string, Record<string, unknown>][] = [
    ['run_command', { sandbox: 'dev', command: 'true', timeout: 1 }],
    ['sandbox_create', { name: 'dev', memory: 512 }],
    ['sandbox_create', { network: 'allow_list', allow: [{ host: 'a.example', ports: [443] }] }],
    ['sandbox_list', { all: true }],
    ['sandbox_stop', { name: 'dev', force: true }],
    ['sandbox_start', { name: 'dev', wait: true }],
    ['sandbox_delete', { name: 'dev', keepWorkspace: false }],
  ];
  for (const [name, args] of calls) {
    assert.match(await failure(name, args), /Unrecognized key/, name);
  }
  const { tools } = await client.listTools();
  for (const name of new Set(calls.map(([each]) => each))) {
    const tool = tools.find((each) => each.name === name);
    assert.equal(tool?.inputSchema.additionalProperties, false, `${name} says it is strict`);
  }
});

test('"." and ".." (and other names outside the API rule) are refused as sandbox names', async () => {
  for (const name of ['.', '..', '-x', 'a/b']) {
    assert.match(await failure('run_command', { sandbox: name, command: 'true' }), /sandbox/);
    assert.match(await failure('sandbox_stop', { name }), /sandbox name/);
    assert.match(await failure('sandbox_create', { name }), /sandbox name/);
  }
});

test('a missing command says it is required and what it takes', async () => {
  const text = await failure('run_command', { sandbox: 'dev' });
  assert.match(text, /command is required: a string .* or an array of strings/);
});

test("run_command's description states both default timeouts and the client's own limit", async () => {
  const { tools } = await client.listTools();
  const run = tools.find((tool) => tool.name === 'run_command');
  const properties = (run?.inputSchema.properties ?? {}) as Record<
    string,
    { description?: string }
  >;
  const timeout = properties.timeoutSeconds?.description ?? '';
  assert.match(timeout, /Default 120 when the request carries a progress token, else 50/);
  assert.match(timeout, /client's own ends the call first/);
});
