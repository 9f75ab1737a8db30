/**
 * File changes from any tool (workspace-changes.ts) on a real namespace sandbox: a command that
 * creates, modifies and deletes files gives three `file_change` events with the right kinds and
 * diffs; a binary file is named; a type change is one event; outside a git repository nothing is
 * reported; the repository's own index and objects are left alone. Also the agent sandbox's
 * `exec` options for other agent implementations: `env` and streamed `onOutput`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createBuiltinAgent } from '../src/agents/builtin/builtin-agent.ts';
import {
  fileChangeEvents,
  parseSnapshot,
  startWorkspaceChanges,
} from '../src/agents/workspace-changes.ts';
import type { TicketEventData } from '../src/api/tickets.ts';
import { agentTestSession, agentTestTask } from './helpers/agent-session.ts';
import { type AgentTestSandbox, startAgentTestSandbox } from './helpers/agent-test-sandbox.ts';
import { scriptedModel } from './helpers/scripted-model.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
const timeoutMs = 30_000;

test('a snapshot’s diff cut at its cap: complete files keep their diffs, the rest get a note', () => {
  const tree = 'a'.repeat(40);
  const raw = (status: string, path: string) =>
    `:100644 100644 ${'1'.repeat(40)} ${'2'.repeat(40)} ${status}\0${path}\0`;
  const section = (path: string) =>
    `diff --git a/${path} b/${path}\n--- a/${path}\n+++ b/${path}\n@@ -1 +1 @@\n-x\n+y\n`;
  const whole = `tree ${tree}\n${raw('M', 'a.txt')}${raw('D', 'b.txt')}\0${section('a.txt')}${section('b.txt')}\0mags-diff-end`;
  const parsed = parseSnapshot(whole);
  assert.equal(parsed?.patchCut, false);
  assert.deepEqual(
    fileChangeEvents(parsed ?? assert.fail('not parsed'), 2).map((event) =>
      event.type === 'file_change' ? [event.path, event.change, event.diff] : [],
    ),
    [
      ['a.txt', 'modified', section('a.txt')],
      ['b.txt', 'deleted', section('b.txt')],
    ],
  );
  // Cut in b.txt's section: a.txt is whole, b.txt's part comes with a note.
  const cut = parseSnapshot(whole.slice(0, whole.indexOf('+++ b/b.txt')));
  const events = fileChangeEvents(cut ?? assert.fail('not parsed'), 2);
  assert.equal(events[0]?.type === 'file_change' && events[0].diff, section('a.txt'));
  assert.match(
    events[1]?.type === 'file_change' ? events[1].diff : '',
    /^--- a\/b\.txt\n\n\[diff left out/m,
  );
  // Cut in the list of paths itself: the complete records only, without diffs.
  const listCut = parseSnapshot(
    `tree ${tree}\n${raw('A', 'c.txt')}${raw('A', 'd.txt').slice(0, 30)}`,
  );
  assert.deepEqual(listCut?.changes, [{ status: 'A', path: 'c.txt' }]);
  assert.equal(listCut?.patchCut, true);
});

describe('file changes from any tool', { skip }, () => {
  let box: AgentTestSandbox;
  const sh = async (command: string, cwd = '/workspace') => {
    const result = await box.sandbox.exec(command, { timeoutMs, cwd });
    assert.equal(result.exitCode, 0, result.output);
    return result.output;
  };
  before(async () => {
    box = await startAgentTestSandbox();
    await sh(`mkdir -p repo plain && printf 'one\\ntwo\\n' > repo/kept.txt && printf 'bye\\n' > repo/gone.txt
printf 'target\\n' > repo/target.txt && printf 'node_modules/\\n' > .gitignore
git init -q . && git add -A && git -c user.name=t -c user.email=t@example.com commit -q -m base`);
  });
  after(async () => {
    await box?.cleanup();
  });

  const changesOf = (events: TicketEventData[]) =>
    events.flatMap((event) => (event.type === 'file_change' ? [event] : []));

  test('a command that creates, modifies and deletes files: three events with their diffs', async () => {
    const events: TicketEventData[] = [];
    const changes = await startWorkspaceChanges(box.sandbox, {
      emit: (event) => void events.push(event),
    });
    assert.equal(changes.enabled, true);
    const objectsBefore = await sh('find .git/objects -type f | sort; git ls-files -s | md5sum');
    await sh(
      "printf 'new\\n' > repo/new.txt && printf 'one\\n2\\n' > repo/kept.txt && rm repo/gone.txt",
    );
    await changes.record(4);
    const [created, modified, deleted, ...rest] = changesOf(events).sort((a, b) =>
      a.change.localeCompare(b.change),
    );
    assert.deepEqual(rest, []);
    assert.deepEqual(
      [created, modified, deleted].map((event) => [event?.change, event?.path, event?.step]),
      [
        ['created', 'repo/new.txt', 4],
        ['deleted', 'repo/gone.txt', 4],
        ['modified', 'repo/kept.txt', 4],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const byPath = new Map(changesOf(events).map((event) => [event.path, event.diff]));
    assert.match(byPath.get('repo/new.txt') ?? '', /^new file mode 100644$/m);
    assert.match(byPath.get('repo/new.txt') ?? '', /^\+new$/m);
    assert.match(byPath.get('repo/kept.txt') ?? '', /^-two$/m);
    assert.match(byPath.get('repo/kept.txt') ?? '', /^\+2$/m);
    assert.match(byPath.get('repo/kept.txt') ?? '', /^ one$/m);
    assert.match(byPath.get('repo/gone.txt') ?? '', /^deleted file mode 100644$/m);
    assert.match(byPath.get('repo/gone.txt') ?? '', /^-bye$/m);
    // Nothing more changed: nothing more is reported.
    events.length = 0;
    await changes.record(5);
    assert.deepEqual(events, []);
    // The repository's own objects and index are as they were.
    assert.equal(
      await sh('find .git/objects -type f | sort; git ls-files -s | md5sum'),
      objectsBefore,
    );
  });

  test('a binary file is named; a file become a link is one event; ignored files are not reported', async () => {
    const events: TicketEventData[] = [];
    const changes = await startWorkspaceChanges(box.sandbox, {
      emit: (event) => void events.push(event),
    });
    await sh(
      "printf 'a\\000b' > repo/data.bin && rm repo/target.txt && ln -s kept.txt repo/target.txt && mkdir -p node_modules/x && echo x > node_modules/x/index.js && echo x > repo/ignored-not.txt && rm repo/ignored-not.txt",
    );
    await changes.record(1);
    const changed = changesOf(events);
    assert.deepEqual(
      changed.map((event) => [event.path, event.change]),
      [
        ['repo/data.bin', 'created'],
        ['repo/target.txt', 'modified'],
      ],
    );
    assert.match(
      changed[0]?.diff ?? '',
      /^Binary files \/dev\/null and b\/repo\/data\.bin differ$/m,
    );
    assert.match(changed[1]?.diff ?? '', /^-target$/m);
    assert.match(changed[1]?.diff ?? '', /^new file mode 120000$/m);
  });

  test('outside a git repository it is off: no events, no error', async () => {
    const events: TicketEventData[] = [];
    await sh('mv .git /tmp/saved-git');
    try {
      const changes = await startWorkspaceChanges(box.sandbox, {
        emit: (event) => void events.push(event),
      });
      assert.equal(changes.enabled, false);
      await sh('echo more > plain/file.txt');
      await changes.record(1);
      assert.deepEqual(events, []);
    } finally {
      await sh('mv /tmp/saved-git .git');
    }
  });

  test('the agent loop reports a run_command’s changes between the call and its result', async () => {
    const scripted = scriptedModel([
      {
        toolCalls: [{ tool: 'run_command', input: { command: 'echo made > repo/by-command.txt' } }],
      },
      {
        toolCalls: [
          { tool: 'finish', input: { summary: 'done', claims: [{ criterion: 1, met: true }] } },
        ],
      },
    ]);
    const session = agentTestSession(box.sandbox);
    const outcome = await createBuiltinAgent({ resolveModel: () => scripted.model }).run(
      agentTestTask({
        prices: { 'mock:scripted': { inputPerMillionUsd: 0, outputPerMillionUsd: 0 } },
      }),
      session,
    );
    assert.equal(outcome.reason, 'finished');
    assert.deepEqual(
      session.events.slice(0, 4).map((event) => event.type),
      ['tool_call', 'command', 'file_change', 'tool_result'],
    );
    const change = session.events[2];
    assert.equal(change?.type === 'file_change' && change.path, 'repo/by-command.txt');
    assert.equal(change?.type === 'file_change' && change.step, 1);
  });
});

describe('agent sandbox exec: env and streamed output', { skip }, () => {
  let box: AgentTestSandbox;
  before(async () => {
    box = await startAgentTestSandbox();
  });
  after(async () => {
    await box?.cleanup();
  });

  test('env adds variables for one command; onOutput gets the output while it runs', async () => {
    const chunks: Buffer[] = [];
    let released = false;
    // The command waits for a file the test writes only once it has seen "ready": without
    // streaming it would wait until its timeout.
    const result = await box.sandbox.exec(
      'echo "ready $GREETING $HOME"; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done',
      {
        timeoutMs: 10_000,
        env: { GREETING: 'hello' },
        onOutput: (chunk) => {
          chunks.push(chunk);
          if (!released && Buffer.concat(chunks).includes('ready')) {
            released = true;
            void box.sandbox.writeFile('/tmp/go', '');
          }
        },
      },
    );
    assert.equal(result.timedOut, false);
    assert.equal(result.exitCode, 0);
    assert.equal(result.output, 'ready hello /root\ndone\n');
    assert.equal(Buffer.concat(chunks).toString(), result.output);
    // The variable was for that command only.
    const next = await box.sandbox.exec('echo "[$GREETING]"', { timeoutMs: 10_000 });
    assert.equal(next.output, '[]\n');
  });
});
