/**
 * Tickets end to end at their limits, with the real parts (a real server on the namespace
 * runtime, the fixture project, the built-in agent on scripted models): two tickets of one
 * project at once, provider errors retried or failing the ticket, an agent reaching for the
 * host's files, a stop with a reason, and bad input through the API and the CLI — clear errors,
 * and no ticket left behind.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { APICallError } from 'ai';
import { ConflictError, InvalidInputError, NotFoundError } from '../src/errors/mags-error.ts';
import {
  call,
  type EndToEndServer,
  finish,
  fixedSum,
  followTicket,
  git,
  inProjectWorkspace,
  serverEnvironment,
  startEndToEndServer,
} from './helpers/end-to-end-tickets.ts';
import type { ScriptEntry } from './helpers/scripted-model.ts';
import { runCli, sandboxSkipReason } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping end-to-end ticket limit tests: ${skip}\n`);

function providerError(statusCode: number, message: string, headers: Record<string, string> = {}) {
  return new APICallError({
    message,
    url: 'https://api.openai.test/v1/responses',
    requestBodyValues: {},
    statusCode,
    responseHeaders: headers,
    isRetryable: statusCode === 429 || statusCode >= 500,
  });
}

describe('tickets end to end at their limits (real parts, scripted models)', { skip }, () => {
  let e2e: EndToEndServer;
  before(async () => {
    e2e = await startEndToEndServer();
  });
  after(() => e2e?.close());

  test('two tickets of one project at once each see only their own changes; the project is unchanged', async () => {
    // Both models wait in their first step until both tickets are there: they run side by side.
    const arrivals: Array<() => void> = [];
    const both = new Promise<void>((resolve) => {
      arrivals.push(resolve);
    });
    let arrived = 0;
    const meet = async (entry: ScriptEntry) => {
      if (++arrived === 2) arrivals[0]?.();
      await both;
      return entry;
    };
    const fixer = e2e.model(async (index) =>
      index === 0
        ? meet(call('edit_file', { path: 'sum.js', oldText: 'a - b', newText: 'a + b' }))
        : finish('fixed', true),
    );
    const writer = e2e.model(async (index) =>
      index === 0
        ? meet(call('write_file', { path: 'NOTES.md', content: 'notes\n' }))
        : call('run_command', { command: 'cat sum.js; ls' }),
    );
    const [first, second] = await Promise.all([
      e2e.alice.tickets.create(e2e.body(fixer.id)),
      e2e.alice.tickets.create(e2e.body(writer.id, { budget: { maxSteps: 2 } })),
    ]);
    await Promise.all([first, second].map((ticket) => followTicket(e2e.alice, ticket.id)));

    const fixed = await e2e.alice.tickets.evidence(first.id);
    assert.equal(fixed.diff, e2e.fixDiff);
    assert.equal(fixed.criteria[0]?.status, 'met');
    const noted = await e2e.alice.tickets.evidence(second.id);
    assert.deepEqual(
      noted.diffStat.files.map((file) => file.path),
      ['NOTES.md'],
    );
    assert.equal(noted.criteria[0]?.status, 'not_met', "the other ticket's fix is not here");
    const seen = (await followTicket(e2e.alice, second.id)).find(
      (event) => event.data.type === 'command' && event.data.source === 'agent',
    )?.data;
    assert.ok(seen?.type === 'command' && seen.output.includes('a - b'), 'its own sum.js');
    assert.ok(seen.output.includes('NOTES.md'));
    assert.ok(!seen.output.includes(fixedSum.trim()));

    // The project's workspace is where both started: at the fixture's commit, clean.
    const project = await inProjectWorkspace(e2e, 'git rev-parse HEAD; git status --porcelain');
    assert.equal(project, `${git(e2e.checkout, 'rev-parse', 'HEAD')}`);
  });

  test("a provider failing with 500 forever: retried, then failed with the provider's message", async () => {
    const down = e2e.model(() => ({ error: providerError(500, 'The server had an error') }));
    const created = await e2e.alice.tickets.create(e2e.body(down.id));
    const events = await followTicket(e2e.alice, created.id);
    const ticket = await e2e.alice.tickets.get(created.id);
    assert.equal(ticket.status, 'failed');
    assert.equal(
      ticket.reason,
      'the model provider failed 6 times: The server had an error (HTTP 500)',
    );
    // The default policy: 5 retries after the first try, each announced.
    const retries = events.flatMap((event) => (event.data.type === 'retry' ? [event.data] : []));
    assert.deepEqual(
      retries.map((retry) => [retry.attempt, retry.message]),
      [1, 2, 3, 4, 5].map((attempt) => [attempt, 'The server had an error (HTTP 500)']),
    );
    assert.equal(down.prompts().length, 6);
    // What the agent did (nothing) is still on record for whoever looks.
    const evidence = await e2e.alice.tickets.evidence(created.id);
    assert.equal(evidence.agentEnd, 'provider_error');
    assert.equal(evidence.diff, '');
  });

  test('a provider answering 429 once is retried after what it asked, and the ticket finishes', async () => {
    const busy = e2e.model([
      { error: providerError(429, 'Rate limit reached', { 'retry-after-ms': '7' }) },
      finish('tried', false, 'not fixed'),
    ]);
    const created = await e2e.alice.tickets.create(e2e.body(busy.id));
    const events = await followTicket(e2e.alice, created.id);
    const retries = events.flatMap((event) => (event.data.type === 'retry' ? [event.data] : []));
    assert.deepEqual(retries, [
      { type: 'retry', message: 'Rate limit reached (HTTP 429)', attempt: 1, delayMs: 7 },
    ]);
    const ticket = await e2e.alice.tickets.get(created.id);
    assert.equal(ticket.status, 'awaiting_review');
    assert.equal((await e2e.alice.tickets.evidence(created.id)).agentEnd, 'finished');
    assert.equal(ticket.usage.steps, 1);
  });

  test("an agent reaching for the host's /etc/shadow and ../../../tmp reaches only the sandbox's", async () => {
    const marker = `/tmp/mags-e2e-host-${randomUUID()}`;
    const secret = `host only ${randomUUID()}`;
    await writeFile(marker, secret);
    const escapeName = `mags-e2e-escape-${randomUUID()}`;
    try {
      const steps: ScriptEntry[] = [
        {
          toolCalls: [
            { tool: 'read_file', input: { path: '/etc/shadow' } },
            { tool: 'read_file', input: { path: marker } },
            {
              tool: 'write_file',
              input: { path: `../../../tmp/${escapeName}`, content: 'escaped?\n' },
            },
          ],
        },
        call('run_command', { command: `cat /tmp/${escapeName}; cat ${marker}; cat /etc/shadow` }),
        finish('looked around', false),
      ];
      const prowler = e2e.model(steps);
      const created = await e2e.alice.tickets.create(e2e.body(prowler.id));
      const events = await followTicket(e2e.alice, created.id);
      // The first step's three calls run side by side: their results by call id.
      const result = (toolCallId: string) =>
        events.flatMap((event) =>
          event.data.type === 'tool_result' && event.data.toolCallId === toolCallId
            ? [event.data]
            : [],
        )[0];
      const [shadow, hostFile, written] = ['call-0-0', 'call-0-1', 'call-0-2'].map(result);

      // /etc/shadow is the image's, not the host's.
      const imageShadow = await readFile(
        join(e2e.server.testHome.home, 'images', 'default', 'rootfs', 'etc', 'shadow'),
        'utf8',
      );
      const hostShadow = await readFile('/etc/shadow', 'utf8');
      assert.equal(shadow?.isError, false, shadow?.output);
      const shown = (shadow?.output ?? '').split('\n').map((line) => line.replace(/^ *\d+\t/, ''));
      assert.equal(`${shown.join('\n')}\n`, imageShadow);
      const hostOnly = hostShadow.split('\n').filter((line) => line && !imageShadow.includes(line));
      for (const line of hostOnly) assert.ok(!shadow?.output.includes(line), 'a host-only line');

      // The host's marker is not there; the write landed in the sandbox's /tmp, not the host's.
      assert.equal(hostFile?.isError, true);
      assert.match(hostFile?.output ?? '', /cannot read/);
      assert.equal(written?.isError, false, written?.output);
      assert.equal(existsSync(join('/tmp', escapeName)), false, 'nothing written on the host');
      assert.equal(await readFile(marker, 'utf8'), secret, 'the host file untouched');
      const command = events.find((event) => event.data.type === 'command')?.data;
      assert.ok(command?.type === 'command');
      assert.match(command.output, /^escaped\?$/m, "the sandbox's /tmp has it");
      assert.ok(!JSON.stringify(events).includes(secret), 'the host secret reached no event');
      // Outside the workspace, so not the ticket's work either.
      assert.equal((await e2e.alice.tickets.evidence(created.id)).diff, '');
    } finally {
      await rm(marker, { force: true });
      await rm(join('/tmp', escapeName), { force: true });
    }
  });

  test('a stop with a reason ends a running ticket; the evidence is still assembled', async () => {
    let reached!: () => void;
    const running = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const slow = e2e.model(async () => {
      reached();
      return call('run_command', { command: 'sleep 30' });
    });
    const created = await e2e.alice.tickets.create(e2e.body(slow.id));
    await running;
    const stopped = await e2e.alice.tickets.stop(created.id, { reason: 'wrong approach' });
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.reason, 'stopped by alice: wrong approach');
    assert.equal((await e2e.alice.tickets.evidence(created.id)).agentEnd, 'stopped');
  });

  test('bad input: clear errors through the API and the CLI, and no ticket left behind', async () => {
    const model = e2e.model([finish('never runs', false)]);
    const before = (await e2e.alice.tickets.list()).map((ticket) => ticket.id);
    const refused = async (
      body: Parameters<EndToEndServer['body']>[1],
      kind: new (...args: never[]) => Error,
      statusCode: number,
      message: RegExp,
    ) => {
      await assert.rejects(e2e.alice.tickets.create(e2e.body(model.id, body)), (error: unknown) => {
        assert.ok(error instanceof kind, String(error));
        const fields = error as Error & { statusCode?: number; hint?: string };
        assert.equal(fields.statusCode, statusCode);
        assert.match(`${fields.message} ${fields.hint}`, message);
        return true;
      });
    };
    await refused({ project: 'nope' }, NotFoundError, 404, /project "nope"/i);
    await refused({ criteria: [] }, InvalidInputError, 400, /at least one criterion/);
    await refused(
      { model: 'nosuch:model' },
      InvalidInputError,
      400,
      /Unknown model provider "nosuch".*Known providers: anthropic, openai, xai, ollama, lmstudio, openai-compatible/,
    );
    assert.equal('ANTHROPIC_API_KEY' in serverEnvironment, false);
    await refused(
      { model: 'anthropic:claude-sonnet-4-5' },
      InvalidInputError,
      400,
      /in ANTHROPIC_API_KEY, which is not set\. Set ANTHROPIC_API_KEY/,
    );
    // Another owner's project is no project at all.
    await assert.rejects(e2e.bob.tickets.create(e2e.body(model.id)), NotFoundError);

    const home = e2e.server.testHome.home;
    const file = join(home, 'bad-ticket.md');
    await writeFile(
      file,
      '---\nproject: calc\ntitle: Fix sum\ncriteria: [unclosed\n---\nFix it.\n',
    );
    const cli = await runCli(home, ['ticket', 'create', '--file', file, '--run'], {
      env: { MAGS_URL: e2e.server.url, MAGS_API_TOKEN: e2e.aliceToken },
    });
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /bad-ticket\.md, line 4, column \d+: bad front matter/);

    assert.deepEqual(
      (await e2e.alice.tickets.list()).map((ticket) => ticket.id),
      before,
    );
    assert.deepEqual(await e2e.bob.tickets.list(), []);
    assert.equal(model.prompts().length, 0);
  });

  test("comments on a closed ticket are a 409; another owner's ticket is a 404", async () => {
    const model = e2e.model([finish('never runs', false)]);
    const draft = await e2e.alice.tickets.create(e2e.body(model.id, { run: false }));
    const closed = await e2e.alice.tickets.close(draft.id);
    assert.equal(closed.status, 'closed');
    await assert.rejects(
      e2e.alice.tickets.comment(draft.id, 'one more thing'),
      (error: unknown) => {
        assert.ok(error instanceof ConflictError, String(error));
        assert.match(error.message, /closed/);
        return true;
      },
    );
    await assert.rejects(e2e.bob.tickets.get(draft.id), NotFoundError);
    await assert.rejects(e2e.bob.tickets.comment(draft.id, 'mine?'), NotFoundError);
    await assert.rejects(e2e.bob.tickets.run(draft.id), NotFoundError);
    const events = await followTicket(e2e.alice, draft.id);
    assert.equal(events.filter((event) => event.data.type === 'comment').length, 0);
    assert.equal(model.prompts().length, 0);
  });
});
