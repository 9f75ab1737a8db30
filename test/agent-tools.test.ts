/**
 * The built-in agent's tools on a real namespace sandbox, called directly: what the model sees,
 * what the log gets, and that they act only inside the sandbox.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { editFileTool } from '../src/agents/builtin/tools/edit-file-tool.ts';
import { finishTool } from '../src/agents/builtin/tools/finish-tool.ts';
import { listFilesTool } from '../src/agents/builtin/tools/list-files-tool.ts';
import { readFileTool } from '../src/agents/builtin/tools/read-file-tool.ts';
import { runCommandTool } from '../src/agents/builtin/tools/run-command-tool.ts';
import { searchFilesTool } from '../src/agents/builtin/tools/search-files-tool.ts';
import type { ToolContext } from '../src/agents/builtin/tools/tool-context.ts';
import { truncateForModel } from '../src/agents/builtin/tools/truncate-output.ts';
import { writeFileTool } from '../src/agents/builtin/tools/write-file-tool.ts';
import type { TicketEventData } from '../src/api/tickets.ts';
import { type AgentTestSandbox, startAgentTestSandbox } from './helpers/agent-test-sandbox.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
const call = { toolCallId: 'call-1' };

test('long output is cut in the middle with a note of what was cut', () => {
  const text = `${'a'.repeat(10_000)}${'b'.repeat(10_000)}`;
  const cut = truncateForModel(text, 1000);
  assert.ok(cut.startsWith('a'.repeat(400)));
  assert.ok(cut.endsWith('b'.repeat(600)));
  assert.match(cut, /19000 of 20000 characters cut/);
  assert.equal(truncateForModel('short', 1000), 'short');
});

describe('agent tools in a namespace sandbox', { skip }, () => {
  let box: AgentTestSandbox;
  let events: TicketEventData[];
  let finished: unknown;
  let context: ToolContext;
  before(async () => {
    box = await startAgentTestSandbox();
    events = [];
    context = {
      sandbox: box.sandbox,
      emit: async (event) => {
        events.push(event);
      },
      step: () => 7,
      signal: new AbortController().signal,
      criteria: [{ text: 'one' }, { text: 'two' }],
      commandTimeoutMs: { default: 5000, max: 10_000 },
      recordChanges: async () => {},
      finished: (result) => {
        finished = result;
      },
    };
  });
  after(async () => {
    await box?.cleanup();
  });

  test('read_file of /etc/shadow reads the sandbox’s file, never the host’s', async () => {
    const marker = `mags-escape-marker-${randomBytes(6).toString('hex')}`;
    const hostMarker = join('/etc', marker);
    await writeFile(hostMarker, 'host secret\n');
    try {
      const shadow = await readFileTool.run({ path: '/etc/shadow' }, call, context);
      const imageShadow = await readFile(join(box.imageRootfs, 'etc', 'shadow'), 'utf8');
      const hostShadow = await readFile('/etc/shadow', 'utf8');
      assert.equal(shadow.isError, false);
      assert.notEqual(imageShadow, hostShadow, 'the test needs the two files to differ');
      const unnumbered = shadow.text
        .split('\n')
        .map((line) => line.replace(/^\s*\d+\t/, ''))
        .join('\n');
      assert.equal(`${unnumbered}\n`, imageShadow);
      // A file only the host has is not there for the agent.
      const missing = await readFileTool.run({ path: hostMarker }, call, context);
      assert.equal(missing.isError, true);
      assert.doesNotMatch(missing.text, /host secret/);
    } finally {
      await rm(hostMarker, { force: true });
    }
  });

  test('a write to ../../ stays inside the sandbox', async () => {
    const name = `escaped-${randomBytes(6).toString('hex')}`;
    const written = await writeFileTool.run(
      { path: `../../${name}`, content: 'out?\n' },
      call,
      context,
    );
    assert.equal(existsSync(`/${name}`), false);
    assert.equal(existsSync(join('/workspace', name)), false);
    // It landed at the sandbox's own root, which is the sandbox's to write.
    assert.equal(written.isError, false, written.text);
    assert.equal((await box.sandbox.readFile(`/${name}`)).toString(), 'out?\n');
  });

  test('write_file makes parent directories; edit_file says where it replaced, and errors say how to fix', async () => {
    const created = await writeFileTool.run(
      { path: 'deep/er/new.txt', content: 'one\ntwo\n' },
      call,
      context,
    );
    assert.equal(created.isError, false, created.text);
    assert.equal(created.text, 'Wrote /workspace/deep/er/new.txt (8 bytes, 2 lines).');
    assert.equal((await box.sandbox.readFile('deep/er/new.txt')).toString(), 'one\ntwo\n');
    const edited = await editFileTool.run(
      { path: 'deep/er/new.txt', oldText: 'two', newText: 'deux' },
      call,
      context,
    );
    assert.equal(edited.text, 'Replaced 1 occurrence in deep/er/new.txt (at line 2).');
    assert.equal((await box.sandbox.readFile('deep/er/new.txt')).toString(), 'one\ndeux\n');

    const none = await editFileTool.run(
      { path: 'deep/er/new.txt', oldText: 'three', newText: 'x' },
      call,
      context,
    );
    assert.equal(none.isError, true);
    assert.match(none.text, /not found.*read_file/s);
    const absent = await editFileTool.run(
      { path: 'nowhere.txt', oldText: 'a', newText: 'b' },
      call,
      context,
    );
    assert.match(absent.text, /does not exist.*write_file/);
  });

  test('read_file shows numbered line ranges and says how to read on', async () => {
    const lines = Array.from({ length: 2500 }, (_, index) => `line ${index + 1}`);
    await box.sandbox.writeFile('long.txt', `${lines.join('\n')}\n`);
    const range = await readFileTool.run(
      { path: 'long.txt', startLine: 10, endLine: 12 },
      call,
      context,
    );
    assert.equal(range.text, '10\tline 10\n11\tline 11\n12\tline 12');
    const whole = await readFileTool.run({ path: 'long.txt' }, call, context);
    assert.match(whole.text, /\[lines 1-2000 of 2500; read on with startLine 2001\]$/);
    const past = await readFileTool.run({ path: 'long.txt', startLine: 3000 }, call, context);
    assert.equal(past.isError, true);
    const big = await box.sandbox.exec('head -c 2000000 /dev/zero | tr "\\0" a > big.txt', {
      timeoutMs: 10_000,
    });
    assert.equal(big.exitCode, 0);
    const tooBig = await readFileTool.run({ path: 'big.txt' }, call, context);
    assert.equal(tooBig.isError, true);
    assert.match(tooBig.text, /big\.txt/);
  });

  test('run_command: exit code, output cut for the model, whole in the command event', async () => {
    events.length = 0;
    const result = await runCommandTool.run(
      { command: 'seq 1 20000; echo oops >&2; exit 3' },
      call,
      context,
    );
    assert.equal(result.isError, false);
    assert.match(result.text, /^exit code 3/);
    assert.match(result.text, /characters cut here/);
    assert.match(result.text, /oops/);
    const command = events.find((event) => event.type === 'command');
    assert.equal(command?.exitCode, 3);
    assert.equal(command?.toolCallId, 'call-1');
    assert.match(command?.output ?? '', /^1\n2\n/);
    assert.match(command?.output ?? '', /\n12345\n/);
    const tooLong = await runCommandTool.run(
      { command: 'true', timeoutSeconds: 60 },
      call,
      context,
    );
    assert.equal(tooLong.isError, true);
    assert.match(tooLong.text, /at most 10/);
    const timedOut = await runCommandTool.run(
      { command: 'echo started; sleep 30', timeoutSeconds: 1 },
      call,
      context,
    );
    assert.equal(timedOut.isError, true);
    assert.match(timedOut.text, /timed out after 1 s.*started/s);
  });

  test('a command whose stop came before it does not run (exec with an aborted signal)', async () => {
    const result = await box.sandbox.exec('touch /workspace/ran-after-stop', {
      timeoutMs: 5000,
      signal: AbortSignal.abort(),
    });
    assert.equal(result.exitCode, null);
    const look = await box.sandbox.exec('test -e /workspace/ran-after-stop', { timeoutMs: 5000 });
    assert.equal(look.exitCode, 1, 'the command ran although its signal was aborted');
  });

  test('list_files and search_files', async () => {
    await box.sandbox.writeFile('search/a.ts', 'const needle = 1;\n').catch(async () => {
      await box.sandbox.exec('mkdir -p search', { timeoutMs: 5000 });
      await box.sandbox.writeFile('search/a.ts', 'const needle = 1;\n');
    });
    await box.sandbox.writeFile('search/b.md', 'a Needle here\n');
    const listed = await listFilesTool.run({ path: 'search' }, call, context);
    assert.equal(listed.text, 'a.ts\nb.md');
    const top = await listFilesTool.run({ depth: 1 }, call, context);
    assert.match(top.text, /^search\/$/m);
    const found = await searchFilesTool.run({ pattern: 'needle', path: 'search' }, call, context);
    assert.equal(found.text, 'search/a.ts:1:const needle = 1;');
    const ignoringCase = await searchFilesTool.run(
      { pattern: 'needle', path: 'search', ignoreCase: true, include: '*.md' },
      call,
      context,
    );
    assert.equal(ignoringCase.text, 'search/b.md:1:a Needle here');
    const none = await searchFilesTool.run({ pattern: 'haystack', path: 'search' }, call, context);
    assert.equal(none.isError, false);
    assert.match(none.text, /No matches/);
    const bad = await searchFilesTool.run({ pattern: '(', path: 'search' }, call, context);
    assert.equal(bad.isError, true);
    assert.match(bad.text, /exit code 2/);
  });

  test('finish numbers criteria from 1, wants a claim for each, and stores them from 0', async () => {
    events.length = 0;
    const partial = await finishTool.run(
      { summary: 's', claims: [{ criterion: 1, met: true }] },
      call,
      context,
    );
    assert.equal(partial.isError, true);
    assert.match(partial.text, /no claim for criterion 2/);
    for (const number of [0, 3]) {
      const outside = await finishTool.run(
        { summary: 's', claims: [{ criterion: number, met: true }] },
        call,
        context,
      );
      assert.equal(outside.isError, true);
      assert.match(
        outside.text,
        new RegExp(`numbers 1 to 2\\); there is no criterion ${number}\\.`),
      );
    }
    assert.equal(finished, undefined);
    assert.equal(events.length, 0);
    const done = await finishTool.run(
      {
        summary: 's',
        claims: [
          { criterion: 1, met: true },
          { criterion: 2, met: false, note: 'not yet' },
        ],
      },
      call,
      context,
    );
    assert.equal(done.isError, false);
    const stored = [
      { criterion: 0, met: true },
      { criterion: 1, met: false, note: 'not yet' },
    ];
    assert.deepEqual(
      events.find((event) => event.type === 'finish'),
      { type: 'finish', summary: 's', claims: stored },
    );
    assert.deepEqual(finished, {
      summary: 's',
      claims: [
        { criterion: 0, met: true },
        { criterion: 1, met: false, note: 'not yet' },
      ],
    });
  });
});
