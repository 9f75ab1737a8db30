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
import { Mags } from '../src/sdk/mags.ts';
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

/**
 * A Mags client whose fetch refuses what `refuse` picks (the API's 502 for a log stream, a
 * dropped connection for a stop), the rest going to the real server.
 */
function refusingClient(
  url: string,
  token: string,
  refuse: (path: string) => Promise<'status' | 'network' | undefined>,
): Mags {
  const fetchWithRefusals: typeof fetch = async (input, init) => {
    const path = new URL(input instanceof Request ? input.url : input).pathname;
    const how = await refuse(path);
    if (how === 'network') throw new TypeError('fetch failed (refused by the test)');
    if (how === 'status') {
      return Response.json(
        { error: { code: 'bad_gateway', message: 'log stream refused by the test' } },
        { status: 502 },
      );
    }
    return fetch(input, init);
  };
  return new Mags({ url, token, fetch: fetchWithRefusals });
}

async function runCommandWith(mags: Mags, sandbox: string, command: string) {
  const mcpServer = createMcpServer(mags);
  const client = new Client({ name: 'follow-failure-test', version: '1.0.0' });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await mcpServer.connect(serverTransport);
  await client.connect(clientTransport);
  try {
    const result = (await client.callTool({
      name: 'run_command',
      arguments: { sandbox, command, timeoutSeconds: 600 },
    })) as CallToolResult;
    assert.equal(result.isError, true);
    const text = result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
    const jobId = /job (job_[A-Za-z0-9_-]+)/.exec(text)?.[1];
    assert.ok(jobId, `the error names the job: ${text}`);
    return { text, jobId };
  } finally {
    await client.close().catch(() => {});
    await mcpServer.close().catch(() => {});
  }
}

test('when its output stream fails, run_command says what became of the job: stopped, ended, or unknown', {
  skip,
}, async () => {
  const server = await startTestServer();
  const { token, mags } = await server.client('alice');
  const sandbox = `follow-${randomBytes(3).toString('hex')}`;
  const isLogs = (path: string) => path.endsWith('/logs');
  const isStop = (path: string) => /^\/v1\/jobs\/[^/]+\/stop$/.test(path);
  let unknownJob: string | undefined;
  try {
    await mags.sandboxes.create({ name: sandbox, ephemeral: true });

    // The stop fails too: nothing says the job ended, so no "was stopped" and no "run it again".
    const neither = refusingClient(server.url, token, async (path) =>
      isLogs(path) ? 'status' : isStop(path) ? 'network' : undefined,
    );
    const unknown = await runCommandWith(neither, sandbox, 'sleep 60');
    unknownJob = unknown.jobId;
    assert.match(unknown.text, /^job_state_unknown: .*nor stop job .*it may still be running/);
    assert.doesNotMatch(unknown.text, /was stopped|Run the command again/);
    assert.match(
      unknown.text,
      /hint: Read mags:\/\/jobs\/.*\/log \(it says whether the job still runs\)/,
    );
    assert.equal((await mags.jobs.get(unknown.jobId)).status, 'running', 'it does still run');
    await mags.jobs.stop(unknown.jobId);

    // The stop works: the job was stopped, and the result says so with its status.
    const stopsFine = refusingClient(server.url, token, async (path) =>
      isLogs(path) ? 'status' : undefined,
    );
    const stopped = await runCommandWith(stopsFine, sandbox, 'sleep 60');
    assert.match(stopped.text, /was stopped \(status stopped\)/);
    assert.equal((await mags.jobs.get(stopped.jobId)).status, 'stopped');

    // The job ended by itself before the stop: its exit code, and no invitation to rerun it.
    const afterTheEnd = refusingClient(server.url, token, async (path) => {
      if (!isLogs(path)) return undefined;
      const jobId = decodeURIComponent(path.split('/')[3] ?? '');
      await waitUntil(async () => (await mags.jobs.get(jobId)).finishedAt !== null, 30_000);
      return 'status';
    });
    const ended = await runCommandWith(afterTheEnd, sandbox, 'exit 3');
    assert.match(ended.text, /had already ended: exit code 3\./);
    assert.match(
      ended.text,
      /hint: Read mags:\/\/jobs\/.*\/log for its output rather than running/,
    );
    assert.doesNotMatch(ended.text, /was stopped|Run the command again/);
  } finally {
    if (unknownJob) await mags.jobs.stop(unknownJob).catch(() => {});
    await mags.sandboxes.delete(sandbox).catch(() => {});
    await server.close();
  }
});
