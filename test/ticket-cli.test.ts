/**
 * The ticket CLI against a real server, where its answer is about the ticket's project or how the
 * ticket ended (no agent runs here): a draft of a failed project says it cannot run yet, `run`
 * and `create --run` on it are refused with the fix, a list filtered by a project that is not the
 * owner's is an error, and `watch` exits 1 for a failed ticket, 3 for a stopped one, 0 otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Mags } from '../src/sdk/mags.ts';
import { projectRecord } from './helpers/project-record.ts';
import { runCli, sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

// A real server starts its runtime: the namespace one needs what sandbox tests need.
const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping ticket CLI tests: ${skip}\n`);

describe('ticket CLI: projects not ready, unknown filters, watch exit codes', { skip }, () => {
  let server: TestServer;
  let alice: Mags;
  let env: Record<string, string>;
  let home: string;

  before(async () => {
    server = await startTestServer({ scheduling: { poolSize: 0 } });
    const client = await server.client('alice');
    alice = client.mags;
    env = { MAGS_URL: server.url, MAGS_API_TOKEN: client.token };
    home = server.testHome.home;
    const { repository } = server.server.services;
    await repository.insertProject(projectRecord('app', {}));
    await repository.insertProject(
      projectRecord('broken', { status: 'failed', commit: null, reason: 'setup exited 1' }),
    );
  });
  after(() => server?.close());

  // A provider that needs no key: what is refused is the project, not the model.
  const createArgs = (name: string) => [
    'ticket',
    'create',
    '-p',
    name,
    '--title',
    'Fix it',
    '--request',
    'Fix it.',
    '--criterion',
    'fixed',
    '--model',
    'ollama:qwen3',
  ];

  test('a draft of a failed project says it cannot run yet; run and create --run are refused with the fix', async () => {
    const created = await runCli(home, createArgs('broken'), { env });
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.toString().trim();
    assert.match(
      created.stderr,
      new RegExp(
        `ticket ${id} is draft; its project broken is failed: once it is ready \\(mags project refresh broken\\), mags ticket run ${id}`,
      ),
    );
    const run = await runCli(home, ['ticket', 'run', id], { env });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /Project broken is not ready \(failed\)/);
    assert.match(run.stderr, /mags project refresh broken/);
    assert.equal((await alice.tickets.get(id)).status, 'draft');

    const queued = await runCli(home, [...createArgs('broken'), '--run'], { env });
    assert.equal(queued.code, 1, queued.stderr);
    assert.match(queued.stderr, /not ready \(failed\)/);
    assert.deepEqual(
      (await alice.tickets.list({ project: 'broken' })).map((ticket) => ticket.id),
      [id],
    );
    // A draft of a ready project: the usual next step.
    const ready = await runCli(home, createArgs('app'), { env });
    assert.equal(ready.code, 0, ready.stderr);
    assert.match(ready.stderr, /is draft; mags ticket run tkt_[\w-]+$/m);
  });

  test('ticket list -p with a project that is not yours is an error, not an empty table', async () => {
    const missing = await runCli(home, ['ticket', 'list', '-p', 'nope'], { env });
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /Project "nope" does not exist/);
    assert.equal(missing.stdout.toString(), '');
    const own = await runCli(home, ['ticket', 'list', '-p', 'broken'], { env });
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout.toString(), / broken +draft /);
  });

  test('watch exits 1 when the ticket ended failed, 3 when stopped, 0 when it awaits review', async () => {
    const { repository } = server.server.services;
    const ticket = await alice.tickets.create({
      project: 'app',
      title: 'Ended',
      request: 'r',
      criteria: [{ text: 'c' }],
      model: 'ollama:qwen3',
    });
    // How attempts end is the queue's (test/ticket-manager.test.ts); here only what watch says.
    for (const [status, code] of [
      ['failed', 1],
      ['stopped', 3],
      ['awaiting_review', 0],
    ] as const) {
      await repository.updateTicket(ticket.id, { status, reason: `it is ${status}` });
      const watch = await runCli(home, ['ticket', 'watch', ticket.id], { env });
      assert.equal(watch.code, code, `${status}: ${watch.stderr}`);
      assert.match(
        watch.stdout.toString(),
        new RegExp(`${ticket.id} is ${status}: it is ${status}`),
      );
      const json = await runCli(home, ['ticket', 'watch', ticket.id, '--json'], { env });
      assert.equal(json.code, code, `${status} --json: ${json.stderr}`);
    }
  });
});
