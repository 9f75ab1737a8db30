/**
 * The MCP job-log resource and the prompts through the official SDK's MCP Client (linked in
 * memory to `createMcpServer` over an SDK client of a real `mags server` with real sandboxes):
 * a job's whole output, a long one capped with the offset of the rest, a running job's so far,
 * the owner's recent jobs listed, a missing or another owner's job a JSON-RPC "not found";
 * the prompts listed with their arguments and got.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { jobLogCapBytes } from '../src/mcp/mcp-resources.ts';
import type { Mags } from '../src/sdk/mags.ts';
import { type LinkedMcpClient, linkedMcpClient } from './helpers/mcp-linked-client.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping MCP resource and prompt tests: ${skip}\n`);

describe('MCP resources and prompts against a real server', { skip }, () => {
  let server: TestServer;
  let alice: Mags;
  let mcp: LinkedMcpClient;
  let bobMcp: LinkedMcpClient;
  before(async () => {
    server = await startTestServer({ scheduling: { poolSize: 0 } });
    alice = (await server.client('alice')).mags;
    mcp = await linkedMcpClient(alice);
    bobMcp = await linkedMcpClient((await server.client('bob')).mags);
  });
  after(async () => {
    await mcp?.close();
    await bobMcp?.close();
    await server?.close();
  });

  const promptText = (result: { messages: Array<{ content: { type: string } }> }) => {
    const content = result.messages[0]?.content as { type: string; text?: string } | undefined;
    assert.equal(content?.type, 'text');
    return content?.text ?? '';
  };

  const readText = async (client: LinkedMcpClient, uri: string) => {
    const { contents } = await client.client.readResource({ uri });
    assert.equal(contents.length, 1);
    const content = contents[0] as { uri: string; mimeType?: string; text: string };
    assert.equal(content.uri, uri);
    assert.equal(content.mimeType, 'text/plain');
    return content.text;
  };

  test("a job's log: stdout and stderr as they came; the owner's recent jobs are listed", async () => {
    const { job } = await alice.runAndWait(
      'echo out; sleep 0.2; echo err >&2; sleep 0.2; echo more',
    );
    assert.equal(await readText(mcp, `mags://jobs/${job.id}/log`), 'out\nerr\nmore\n');
    const { resources } = await mcp.client.listResources();
    const listed = resources.find((resource) => resource.uri === `mags://jobs/${job.id}/log`);
    assert.ok(listed, 'the job is listed');
    assert.equal(listed.mimeType, 'text/plain');
    assert.match(listed.description ?? '', /^succeeded: /);
    const bobs = await bobMcp.client.listResources();
    assert.ok(bobs.resources.every((resource) => !resource.uri.includes(job.id)));
  });

  test('a log past the cap is cut there, with a note naming the offset of the rest', async () => {
    const totalBytes = jobLogCapBytes + 200_000;
    const { job } = await alice.runAndWait(`head -c ${totalBytes} /dev/zero | tr '\\0' x`);
    assert.equal(job.logBytes, totalBytes);
    const text = await readText(mcp, `mags://jobs/${job.id}/log`);
    const [kept, note] = [text.slice(0, jobLogCapBytes), text.slice(jobLogCapBytes)];
    assert.equal(kept, 'x'.repeat(jobLogCapBytes));
    const restUri = `mags://jobs/${job.id}/log?offset=${jobLogCapBytes}`;
    assert.equal(
      note,
      `\n[mags: the log is cut here at byte ${jobLogCapBytes} of ${totalBytes}; read the rest ` +
        `from the resource ${restUri}]\n`,
    );
    // The rest is where the note says, through MCP: the resource from that offset.
    assert.equal(await readText(mcp, restUri), 'x'.repeat(totalBytes - jobLogCapBytes));
  });

  test('a cut at the cap never splits a character; the next read starts on the next one', async () => {
    // "a" then 2-byte characters: the cap (even) falls between the two bytes of one "é".
    const count = 600_000;
    const { job } = await alice.runAndWait(`printf a; yes é | head -n ${count} | tr -d '\\n'`);
    assert.equal(job.logBytes, 1 + 2 * count);
    const first = await readText(mcp, `mags://jobs/${job.id}/log`);
    const cut = jobLogCapBytes - 1;
    const restUri = `mags://jobs/${job.id}/log?offset=${cut}`;
    assert.equal(
      first,
      `a${'é'.repeat((cut - 1) / 2)}\n[mags: the log is cut here at byte ${cut} of ${job.logBytes}; read the rest from the resource ${restUri}]\n`,
    );
    const rest = await readText(mcp, restUri);
    assert.equal(rest, 'é'.repeat(count - (cut - 1) / 2));
  });

  test("run_command's truncated output names the log resource, which holds all of it", async () => {
    await mcp.ok('sandbox_create', { name: 'runbox' });
    try {
      const run = await mcp.ok('run_command', { sandbox: 'runbox', command: 'seq 1 100000' });
      const logUri = run.value.logUri as string;
      assert.match(logUri, /^mags:\/\/jobs\/job_[A-Za-z0-9_-]+\/log$/);
      assert.ok(!run.text.includes('\n50000\n'), 'the tool result left the middle out');
      // 589 kB: under the resource's cap, far over the tool result's.
      const whole = Array.from({ length: 100_000 }, (_, index) => `${index + 1}\n`).join('');
      const text = await readText(mcp, logUri);
      assert.ok(text === whole, `the log holds ${text.length} characters, not ${whole.length}`);
    } finally {
      await alice.sandboxes.delete('runbox');
    }
  });

  test("a running job's log is its output so far, saying it still runs", async () => {
    const box = await alice.sandboxes.create({ name: 'logbox', ephemeral: true });
    try {
      const job = await alice.sandboxes.exec(box.name, 'echo early; sleep 30');
      let text = '';
      for (let waited = 0; !text.startsWith('early') && waited < 10_000; waited += 100) {
        text = await readText(mcp, `mags://jobs/${job.id}/log`);
        if (!text.startsWith('early')) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(
        text,
        `early\n[mags: job ${job.id} is still running; its output after this: ` +
          `mags://jobs/${job.id}/log?offset=6]\n`,
      );
      await alice.jobs.stop(job.id);
    } finally {
      await alice.sandboxes.delete('logbox');
    }
  });

  test("a missing, malformed or another owner's job is a JSON-RPC error naming it", async () => {
    const { job } = await alice.runAndWait('echo mine');
    const cases: Array<[LinkedMcpClient, string, number, RegExp]> = [
      [
        mcp,
        'mags://jobs/job_missing/log',
        -32002,
        // The hint names MCP's ways, not `mags list`.
        /^MCP error -32002: mags:\/\/jobs\/job_missing\/log: .*job_missing.*\(run_command's result names its job id; resources\/list lists/,
      ],
      [
        bobMcp,
        `mags://jobs/${job.id}/log`,
        -32002,
        new RegExp(`mags://jobs/${job.id}/log: .*${job.id}`),
      ],
      [mcp, 'mags://jobs/not-a-job/log', -32602, /not a job id/],
      // Checked before any request: a decoded "../x" would be resolved in the API's path.
      [mcp, 'mags://jobs/..%2Fsandboxes/log', -32602, /"\.\.\/sandboxes": not a job id/],
      [mcp, `mags://jobs/${job.id}/log?offset=-1`, -32602, /offset must be a whole number/],
      [mcp, 'mags://nothing/here', -32602, /not found/i],
    ];
    for (const [client, uri, code, expected] of cases) {
      await assert.rejects(client.client.readResource({ uri }), (error: unknown) => {
        assert.ok(error instanceof McpError, String(error));
        assert.equal(error.code, code, `${uri}: ${error.message}`);
        assert.match(error.message, expected);
        assert.doesNotMatch(error.message, /\bmags [a-z]/, 'no CLI command in the hint');
        return true;
      });
    }
  });

  test('the prompts are listed with their arguments and got; a missing argument is refused', async () => {
    const { prompts } = await mcp.client.listPrompts();
    const byName = new Map(prompts.map((prompt) => [prompt.name, prompt]));
    assert.deepEqual(
      byName
        .get('work_in_sandbox')
        ?.arguments?.map((argument) => [argument.name, argument.required]),
      [
        ['task', true],
        ['workspace', false],
      ],
    );
    assert.deepEqual(
      byName.get('review_ticket')?.arguments?.map((argument) => argument.name),
      ['ticketId'],
    );

    const withWorkspace = await mcp.client.getPrompt({
      name: 'work_in_sandbox',
      arguments: { task: 'make npm test pass', workspace: 'app' },
    });
    const text = promptText(withWorkspace);
    assert.equal(withWorkspace.messages[0]?.role, 'user');
    assert.match(text, /^Do this task in a mags sandbox: make npm test pass$/m);
    assert.match(text, /the workspace "app"/);
    assert.match(text, /workspace_sync "app"/);
    for (const tool of ['sandbox_create', 'run_command', 'file_edit', 'file_read']) {
      assert.match(text, new RegExp(tool), `names ${tool}`);
    }
    const fresh = await mcp.client.getPrompt({ name: 'work_in_sandbox', arguments: { task: 'x' } });
    const freshText = promptText(fresh);
    assert.doesNotMatch(freshText, /workspace_sync/);
    assert.match(freshText, /sandbox_delete/);

    const review = await mcp.client.getPrompt({
      name: 'review_ticket',
      arguments: { ticketId: 'tkt_abc' },
    });
    const reviewText = promptText(review);
    assert.match(reviewText, /ticket_evidence/);
    assert.match(reviewText, /mags:\/\/tickets\/tkt_abc\/evidence/);
    assert.match(
      reviewText,
      /stays with the person, who does it with `mags ticket approve tkt_abc`/,
    );

    await assert.rejects(
      mcp.client.getPrompt({ name: 'work_in_sandbox', arguments: {} }),
      (error: unknown) => {
        assert.ok(error instanceof McpError, String(error));
        assert.equal(error.code, -32602);
        assert.match(error.message, /task/);
        return true;
      },
    );
  });
});
