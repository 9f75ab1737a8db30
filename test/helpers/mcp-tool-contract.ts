/**
 * The MCP tool contract: what every transport of the mags MCP server (in memory, stdio,
 * streamable HTTP) must do for a real MCP client, the SDK's own `Client`. Each transport's test
 * calls `runMcpToolContract` with a `connect` function, the only transport-specific part.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { Job } from '../../src/api/schemas.ts';
import type { Mags } from '../../src/sdk/mags.ts';
import { toolText } from './mcp-clients.ts';
import { waitUntil } from './server-process.ts';
import { sandboxSkipReason } from './test-home.ts';

export interface McpContractSubject {
  /** The SDK's MCP client, connected to a mags MCP server backed by a real mags server. */
  client: Client;
  /**
   * An SDK client of the same owner on that mags server: the suite checks through it, from
   * outside the MCP server, what the tools did (a job stopped, a job's end).
   */
  mags: Mags;
  /** Closes the client, the MCP server and the mags server. */
  close(): Promise<void>;
}

/** The tools this suite calls (issue 18's agreed names); other helpers' suites check theirs. */
export const sandboxToolNames = [
  'sandbox_create',
  'sandbox_list',
  'sandbox_stop',
  'sandbox_start',
  'sandbox_delete',
  'run_command',
  'file_read',
  'file_write',
  'file_edit',
  'file_list',
];

type Structured = Record<string, unknown>;

export function runMcpToolContract(name: string, connect: () => Promise<McpContractSubject>): void {
  const skip = sandboxSkipReason();
  if (skip) process.stdout.write(`# skipping the MCP tool contract over ${name}: ${skip}\n`);

  describe(`MCP tool contract over ${name}`, { skip }, () => {
    let subject: McpContractSubject;
    const sandbox = `mcp-contract-${randomBytes(3).toString('hex')}`;
    const call = async (
      tool: string,
      args: Record<string, unknown>,
      options: Parameters<Client['callTool']>[2] = {},
    ) =>
      (await subject.client.callTool({ name: tool, arguments: args }, undefined, {
        timeout: 120_000,
        ...options,
      })) as CallToolResult;
    /** A call that must succeed: its structured content. */
    const succeed = async (tool: string, args: Record<string, unknown>) => {
      const result = await call(tool, args);
      assert.notEqual(result.isError, true, `${tool} failed: ${toolText(result)}`);
      return result.structuredContent as Structured;
    };
    /** A call that must be a tool error (not a protocol error): its text. */
    const fail = async (tool: string, args: Record<string, unknown>) => {
      const result = await call(tool, args);
      assert.equal(result.isError, true, `${tool} should have failed: ${toolText(result)}`);
      return toolText(result);
    };
    const run = (command: string | string[], extra: Record<string, unknown> = {}) =>
      succeed('run_command', { sandbox, command, ...extra });

    before(async () => {
      subject = await connect();
    });
    after(async () => {
      await subject?.mags.sandboxes.delete(sandbox).catch(() => {});
      await subject?.close();
    });

    test("lists the agreed tools, each with a description and a JSON Schema object input with described properties, valid in the SDK's own validator", async () => {
      const { tools } = await subject.client.listTools();
      const names = tools.map((tool) => tool.name);
      for (const expected of sandboxToolNames) assert.ok(names.includes(expected), expected);
      for (const tool of tools) {
        assert.match(tool.name, /^[a-z]+(_[a-z]+)*$/, `${tool.name} is snake_case`);
        assert.ok((tool.description ?? '').length > 20, `${tool.name} has a description`);
        assert.equal(tool.inputSchema.type, 'object', `${tool.name}'s input is an object`);
        for (const [property, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
          const described = (schema as { description?: string }).description ?? '';
          assert.ok(described.length > 5, `${tool.name}.${property} has a description`);
        }
      }
      const run = tools.find((tool) => tool.name === 'run_command');
      assert.deepEqual([...(run?.inputSchema.required ?? [])].sort(), ['command', 'sandbox']);
      // Each published schema compiles in the SDK's own JSON Schema validator (what a client
      // checks arguments with), and says what the server enforces: run_command's takes a call
      // shaped like the contract's and refuses a wrong type and an unknown key.
      const validator = new AjvJsonSchemaValidator();
      const check = Object.fromEntries(
        tools.map((tool) => [tool.name, validator.getValidator(tool.inputSchema)]),
      );
      const runCheck = check.run_command;
      assert.ok(runCheck);
      assert.equal(runCheck({ sandbox: 'box', command: ['node', '-e', '1'] }).valid, true);
      assert.equal(runCheck({ sandbox: 'box', command: 'true', timeoutSeconds: 5 }).valid, true);
      assert.equal(runCheck({ sandbox: 'box', command: 7 }).valid, false);
      assert.equal(runCheck({ sandbox: 'box', command: 'true', timeout: 5 }).valid, false);
    });

    test('creates a sandbox, writes a file, runs node on it and reads what it wrote', async () => {
      const created = await succeed('sandbox_create', { name: sandbox });
      assert.equal((created.sandbox as { name: string }).name, sandbox);
      const listed = await succeed('sandbox_list', {});
      assert.ok((listed.sandboxes as { name: string }[]).some((each) => each.name === sandbox));

      const script =
        "require('node:fs').writeFileSync('/workspace/out/result.txt', 'sum=' + (1 + 2) + ' ✓\\n');";
      await succeed('file_write', { sandbox, path: '/workspace/out/make.js', content: script });
      const ran = await run(['node', '/workspace/out/make.js']);
      assert.equal(ran.exitCode, 0, String(ran.output));
      // Claude Code and Codex give the model only the structured value when there is one.
      assert.match(String(ran.summary), /^exit code 0 after [\d.]+ s; job job_/);
      assert.match(String(created.summary), new RegExp(`^Created sandbox ${sandbox}: running`));
      assert.match(String(listed.summary), new RegExp(`${sandbox}: running.*last active`));
      assert.equal(ran.timedOut, false);
      assert.match(String(ran.jobId), /^job_/);
      assert.equal(ran.logUri, `mags://jobs/${ran.jobId}/log`);
      assert.equal(typeof ran.durationMs, 'number');

      const read = await succeed('file_read', { sandbox, path: '/workspace/out/result.txt' });
      assert.equal(read.content, 'sum=3 ✓\n');
      const listing = await succeed('file_list', { sandbox, path: '/workspace/out' });
      const entries = listing.entries as { name: string; type: string; sizeBytes: number }[];
      assert.deepEqual(
        entries.map((entry) => [entry.name, entry.type]),
        [
          ['make.js', 'file'],
          ['result.txt', 'file'],
        ],
      );
      assert.equal(entries[1]?.sizeBytes, Buffer.byteLength('sum=3 ✓\n'));
    });

    test('a command reports its exit code and output; a long output is cut head + tail with the count', async () => {
      const failed = await run('echo to-out; echo to-err >&2; exit 3');
      assert.equal(failed.exitCode, 3);
      assert.match(String(failed.output), /to-out\n[\s\S]*to-err/);
      const long = await run('seq 1 40000');
      const total = (await subject.mags.jobs.get(String(long.jobId))).logBytes;
      assert.equal(long.outputBytes, total);
      assert.ok(Number(long.omittedBytes) > 0);
      assert.ok(Number(long.omittedBytes) < total);
      const output = String(long.output);
      assert.ok(output.startsWith('1\n2\n3\n'));
      assert.ok(output.endsWith('39999\n40000\n'));
      assert.match(output, new RegExp(`${long.omittedBytes} bytes of output left out`));
    });

    test('edits a file: one exact match is replaced, none or several are tool errors that change nothing', async () => {
      const path = '/workspace/edit.txt';
      await succeed('file_write', { sandbox, path, content: 'alpha\nbeta\nbeta\n', mode: '755' });
      const none = await fail('file_edit', { sandbox, path, oldString: 'gamma', newString: 'x' });
      assert.match(none, /occurs 0 times/);
      const several = await fail('file_edit', { sandbox, path, oldString: 'beta', newString: 'x' });
      assert.match(several, /occurs 2 times[\s\S]*replaceAll/);
      assert.equal((await succeed('file_read', { sandbox, path })).content, 'alpha\nbeta\nbeta\n');

      await succeed('file_edit', { sandbox, path, oldString: 'alpha\n', newString: 'ALPHA\n' });
      const all = await succeed('file_edit', {
        sandbox,
        path,
        oldString: 'beta',
        newString: 'b',
        replaceAll: true,
      });
      assert.equal(all.replacements, 2);
      assert.equal((await succeed('file_read', { sandbox, path })).content, 'ALPHA\nb\nb\n');
      const mode = await run(['stat', '-c', '%a', path]);
      assert.equal(String(mode.output).trim(), '755', 'the edit kept the permission bits');
    });

    test('reads a line range, and reports a binary file instead of dumping it', async () => {
      await run(
        'seq 1 100 > /workspace/lines.txt; head -c 2000 /dev/urandom > /workspace/blob; printf "\\0" >> /workspace/blob',
      );
      const range = await succeed('file_read', {
        sandbox,
        path: '/workspace/lines.txt',
        startLine: 10,
        endLine: 12,
      });
      assert.equal(range.content, '10\n11\n12');
      const cut = await call('file_read', { sandbox, path: '/workspace/lines.txt', maxBytes: 10 });
      assert.equal((cut.structuredContent as Structured).content, '1\n2\n3\n4\n5\n');
      assert.equal((cut.structuredContent as Structured).truncated, true);
      assert.match(toolText(cut), /292 bytes; showing the first 10 \(282 left out/);
      const binary = await call('file_read', { sandbox, path: '/workspace/blob' });
      assert.notEqual(binary.isError, true);
      assert.equal((binary.structuredContent as Structured).binary, true);
      assert.match(toolText(binary), /binary file of 2001 bytes/);
    });

    test('a command past its timeout is stopped, and the result says so with the output so far', async () => {
      const result = await run('echo before-the-wait; sleep 60; echo never', { timeoutSeconds: 1 });
      assert.equal(result.timedOut, true);
      assert.match(String(result.output), /before-the-wait/);
      assert.doesNotMatch(String(result.output), /never/);
      const job = await subject.mags.jobs.get(String(result.jobId));
      assert.equal(job.endReason, 'timed_out');
      assert.ok(job.finishedAt, 'the job has ended');
    });

    test('cancelling the request stops the command: its job ends as stopped, quickly', async () => {
      const controller = new AbortController();
      const pending = call(
        'run_command',
        { sandbox, command: 'echo started; sleep 120' },
        { signal: controller.signal },
      );
      let running: Job | undefined;
      await waitUntil(async () => {
        const { jobs } = await subject.mags.jobs.list({ sandbox, status: 'running' });
        running = jobs.find((job) => job.command.join(' ').includes('sleep 120'));
        return running !== undefined;
      }, 30_000);
      const abortedAt = Date.now();
      controller.abort();
      await assert.rejects(pending);
      let ended: Job | undefined;
      await waitUntil(async () => {
        ended = await subject.mags.jobs.get(String(running?.id));
        return ended.finishedAt !== null;
      }, 30_000);
      assert.equal(ended?.status, 'stopped');
      assert.equal(ended?.endReason, 'stopped');
      // Far below the command's own 120 s: the stop came from the cancellation.
      assert.ok(Date.now() - abortedAt < 30_000);
    });

    test('cancelling sandbox_create leaves no sandbox behind', async () => {
      const name = `${sandbox}-cancel`;
      const controller = new AbortController();
      const pending = call(
        'sandbox_create',
        { name, ephemeral: true },
        { signal: controller.signal },
      );
      controller.abort();
      await assert.rejects(pending);
      const exists = async () =>
        (await subject.mags.sandboxes.list()).some((each) => each.name === name);
      try {
        // Seen or not (it may be deleted before a poll sees it), it must not stay.
        await waitUntil(exists, 5_000).catch(() => {});
        await waitUntil(async () => !(await exists()), 30_000);
      } finally {
        await subject.mags.sandboxes.delete(name).catch(() => {});
      }
    });

    test('sends progress notifications while a long command runs, when the client asks', async () => {
      const progress: { progress: number; message?: string }[] = [];
      const result = (await subject.client.callTool(
        {
          name: 'run_command',
          arguments: { sandbox, command: 'for i in 1 2 3 4; do echo step-$i; sleep 1; done' },
        },
        undefined,
        { onprogress: (notification) => progress.push(notification), timeout: 60_000 },
      )) as CallToolResult;
      assert.equal((result.structuredContent as Structured).exitCode, 0);
      assert.ok(progress.length >= 2, `${progress.length} progress notifications`);
      for (let index = 1; index < progress.length; index++) {
        assert.ok(
          (progress[index]?.progress ?? 0) > (progress[index - 1]?.progress ?? 0),
          'progress increases',
        );
      }
      assert.ok(
        progress.some((each) => /step-\d/.test(each.message ?? '')),
        'the last line',
      );
    });

    test('bad arguments are tool errors (with a code and a hint) and the connection keeps working', async () => {
      const wrongType = await fail('run_command', { sandbox, command: 42 });
      assert.match(wrongType, /command/);
      const missingArgument = await fail('file_read', { sandbox });
      assert.match(missingArgument, /path/);
      const noSandboxResult = await call('run_command', {
        sandbox: 'no-such-sandbox',
        command: 'true',
      });
      const noSandbox = toolText(noSandboxResult);
      assert.match(noSandbox, /not_found[\s\S]*hint: sandbox_list/);
      const structuredError = (noSandboxResult.structuredContent as Structured).error as Structured;
      assert.equal(structuredError.code, 'sandbox_not_found');
      assert.match(String(structuredError.hint), /sandbox_list/);
      const noFile = await fail('file_read', { sandbox, path: '/workspace/no-such-file' });
      assert.match(noFile, /file_not_found[\s\S]*hint: file_list/);
      const traversal = await fail('file_read', { sandbox, path: '/workspace/../../etc/shadow' });
      assert.match(traversal, /invalid_input|\.\./);
      const relative = await fail('file_write', { sandbox, path: 'relative.txt', content: 'x' });
      assert.match(relative, /absolute|invalid_input/);
      const badCwd = await call('run_command', { sandbox, command: 'pwd', cwd: '/no/such/dir' });
      assert.ok(
        badCwd.isError === true || (badCwd.structuredContent as Structured).exitCode !== 0,
        `a missing cwd fails: ${toolText(badCwd)}`,
      );
      const badNetwork = await fail('sandbox_create', { network: 'allow_list' });
      assert.match(badNetwork, /allow/);
      const unknownArgument = await fail('run_command', { sandbox, command: 'true', timeout: 1 });
      assert.match(unknownArgument, /Unrecognized key: "timeout"/);
      const dotName = await fail('sandbox_stop', { name: '..' });
      assert.match(dotName, /sandbox name/);
      const unknownTool = await call('no_such_tool', {});
      assert.equal(unknownTool.isError, true);
      // The same connection still works.
      assert.equal((await run('echo still-here')).output, 'still-here\n');
    });

    test('stops, starts and deletes the sandbox; errors name the tools that help', async () => {
      const stopped = await succeed('sandbox_stop', { name: sandbox });
      assert.equal((stopped.sandbox as { status: string }).status, 'stopped');
      const whileStopped = await fail('run_command', { sandbox, command: 'true' });
      assert.match(whileStopped, /sandbox_stopped[\s\S]*hint: sandbox_start/);
      const started = await succeed('sandbox_start', { name: sandbox });
      assert.equal((started.sandbox as { status: string }).status, 'running');
      const kept = await succeed('file_read', { sandbox, path: '/workspace/out/result.txt' });
      assert.equal(kept.content, 'sum=3 ✓\n', 'the workspace files outlive the stop');
      const exists = await fail('sandbox_create', { name: sandbox });
      assert.match(exists, /sandbox_exists[\s\S]*hint: .*sandbox_delete/);
      await succeed('sandbox_delete', { name: sandbox });
      const listed = await succeed('sandbox_list', {});
      assert.ok(!(listed.sandboxes as { name: string }[]).some((each) => each.name === sandbox));
      assert.match(await fail('sandbox_delete', { name: sandbox }), /not_found/);
    });
  });
}
