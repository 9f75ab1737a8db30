/**
 * /mcp of a real `mags server` process, as a user starts it: a session works end to end, and a
 * restart (SIGTERM: work is left running for the next server) closes the session without
 * stopping the command its tool call was running: the job ends on the next server, complete.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Job } from '../src/api/schemas.ts';
import { Mags } from '../src/sdk/index.ts';
import { connectMcpOverHttp } from './helpers/mcp-clients.ts';
import { startServerProcess, stopServerProcess, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping /mcp of a server process: ${skip}\n`);

describe('/mcp of a mags server process', { skip }, () => {
  let testHome: TestHome | undefined;
  let child: ChildProcess | undefined;

  before(async () => {
    testHome = await createTestHome();
  });
  after(async () => {
    await stopServerProcess(child, { stopSandboxes: true });
    await testHome?.cleanup();
  });

  test('a restart closes the session but leaves its running command to finish on the next server', async () => {
    const { home } = testHome as TestHome;
    const created = await runCli(home, ['token', 'create', '--owner', 'alice']);
    const token = created.stdout.toString().trim();
    const environment = { ...process.env, MAGS_HOME: home };
    let server = await startServerProcess(environment, ['--pool-size', '0']);
    child = server.child;
    const { client } = await connectMcpOverHttp(server.url, token, 'mcp-http-process-test');
    const sandbox = (await client.callTool({
      name: 'sandbox_create',
      arguments: { name: 'dev', ephemeral: true, sleep: false },
    })) as CallToolResult;
    assert.notEqual(sandbox.isError, true, JSON.stringify(sandbox.content));

    const pending = client.callTool(
      { name: 'run_command', arguments: { sandbox: 'dev', command: 'sleep 3; echo survived' } },
      undefined,
      { timeout: 60_000 },
    );
    let mags = new Mags({ url: server.url, token });
    let running: Job | undefined;
    await waitUntil(async () => {
      const { jobs } = await mags.jobs.list({ sandbox: 'dev', status: 'running' });
      running = jobs.find((job) => job.command.join(' ').includes('survived'));
      return running !== undefined;
    }, 30_000);
    await stopServerProcess(child); // SIGTERM: the work stays for the next server
    // The SDK's client waits for an answer that will not come (its stream ended without one)
    // until its timeout; closing it fails the call at once.
    await client.close();
    await assert.rejects(pending);

    server = await startServerProcess(environment, ['--pool-size', '0']);
    child = server.child;
    mags = new Mags({ url: server.url, token });
    const waited = await mags.jobs.wait(String(running?.id));
    assert.equal(waited.stdout, 'survived\n');
    // The log can end before the next server has recorded the job's end: wait for the record.
    let ended: Job | undefined;
    await waitUntil(async () => {
      ended = await mags.jobs.get(String(running?.id));
      return ended.finishedAt !== null;
    }, 30_000);
    assert.equal(ended?.endReason, 'exited', JSON.stringify(ended));
    assert.equal(ended?.exitCode, 0);
  });
});
