/**
 * run_command when it cannot follow its job's output (here: the owner's streams are used up):
 * the job must not be left running unseen, and the tool error must name it and its log.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createMcpServer } from '../src/mcp/create-mcp-server.ts';
import { waitUntil } from './helpers/server-process.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping run_command follow failure: ${skip}\n`);

test('a run_command whose output stream is refused stops its job and names it', {
  skip,
}, async () => {
  const server = await startTestServer({ perOwner: { streams: 1 } });
  const { token, mags } = await server.client('alice');
  const sandbox = `follow-${randomBytes(3).toString('hex')}`;
  const holder = new AbortController();
  const mcpServer = createMcpServer(mags);
  const client = new Client({ name: 'follow-failure-test', version: '1.0.0' });
  try {
    await mags.sandboxes.create({ name: sandbox, ephemeral: true });
    // The owner's one stream, held as a dashboard tab would hold it.
    const held = await fetch(new URL('/v1/pool/events', server.url), {
      headers: { authorization: `Bearer ${token}` },
      signal: holder.signal,
    });
    assert.equal(held.status, 200);
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await mcpServer.connect(serverTransport);
    await client.connect(clientTransport);

    const result = (await client.callTool({
      name: 'run_command',
      arguments: { sandbox, command: 'sleep 90', timeoutSeconds: 600 },
    })) as CallToolResult;
    assert.equal(result.isError, true);
    const text = result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
    const jobId = /job (job_[A-Za-z0-9_-]+) was stopped/.exec(text)?.[1];
    assert.ok(jobId, `the error names the job: ${text}`);
    assert.match(text, new RegExp(`mags://jobs/${jobId}/log`));
    assert.match(text, /owner_limit_reached[\s\S]*hint: .*(run_command|cancel)/);
    const structured = result.structuredContent as { error: { message: string } };
    assert.match(structured.error.message, new RegExp(jobId), 'the structured error names it too');
    await waitUntil(async () => (await mags.jobs.get(jobId)).finishedAt !== null, 30_000);
    assert.equal((await mags.jobs.get(jobId)).status, 'stopped');
  } finally {
    holder.abort();
    await client.close().catch(() => {});
    await mcpServer.close().catch(() => {});
    await mags.sandboxes.delete(sandbox).catch(() => {});
    await server.close();
  }
});
