/**
 * `mags plan edit` against a real server (plans written by hand; no agent runs): an edit in
 * $EDITOR that the server refuses keeps the user's file and says how to apply it once fixed; an
 * unchanged file changes nothing; an emptied one aborts; a failing editor exits 1; bad command
 * lines exit 2, refused edits 1; a stale `ifUpdatedAt` is a 409 `plan_changed`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PlanSpec } from '../src/api/plans.ts';
import { ConflictError } from '../src/errors/mags-error.ts';
import type { Mags } from '../src/sdk/mags.ts';
import { projectRecord } from './helpers/project-record.ts';
import { runCli, sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping plan edit CLI tests: ${skip}\n`);

const spec = (): PlanSpec => ({
  summary: 'Two steps',
  tickets: [
    {
      key: 'first',
      title: 'First',
      request: 'Do the first thing.',
      criteria: [{ text: 'done', check: 'true' }],
      model: 'ollama:qwen3',
      dependsOn: [],
    },
    {
      key: 'second',
      title: 'Second',
      request: 'Then the second.',
      criteria: [{ text: 'done' }],
      model: 'ollama:qwen3',
      dependsOn: ['first'],
    },
  ],
});

describe('mags plan edit', { skip }, () => {
  let server: TestServer;
  let alice: Mags;
  let env: Record<string, string>;
  let home: string;

  before(async () => {
    server = await startTestServer({ scheduling: { poolSize: 0 } });
    await server.server.services.repository.insertProject(projectRecord('app', {}));
    const client = await server.client('alice');
    alice = client.mags;
    env = { MAGS_URL: server.url, MAGS_API_TOKEN: client.token };
    home = server.testHome.home;
  });
  after(() => server?.close());

  const cli = (args: string[], editor?: string) =>
    runCli(home, args, { env: { ...env, VISUAL: '', ...(editor && { EDITOR: editor }) } });
  const draft = async () =>
    (await alice.plans.create({ project: 'app', request: 'Two steps', spec: spec() })).id;

  test('a refused edit keeps the file and says how to retry; the retry applies it', async () => {
    const id = await draft();
    // A cycle: the server refuses it (400), which is about the plan, not the command line.
    const refused = await cli(
      ['plan', 'edit', id],
      "sed -i 's/^  - key: first$/  - key: first\\n    dependsOn: [second]/'",
    );
    assert.equal(refused.code, 1, refused.stderr);
    const kept =
      /kept in (\S+\.yaml): fix it there, then run: mags plan edit (\S+) --file (\S+)/.exec(
        refused.stderr,
      );
    assert.ok(kept, refused.stderr);
    assert.equal(kept[2], id);
    assert.equal(kept[1], kept[3]);
    const path = kept[1] as string;
    const text = await readFile(path, 'utf8');
    assert.match(text, /dependsOn: \[second\]/, 'the user’s edit is in the kept file');
    assert.equal((await alice.plans.get(id)).tickets[0]?.dependsOn.length, 0, 'nothing changed');

    await writeFile(
      path,
      text
        .replace('\n    dependsOn: [second]', '')
        .replace('title: First\n', 'title: First, fixed\n'),
    );
    const retried = await cli(['plan', 'edit', id, '--file', path]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal((await alice.plans.get(id)).tickets[0]?.title, 'First, fixed');
    await rm(dirname(path), { recursive: true, force: true });

    // Bad YAML: kept as well, exit 1.
    const bad = await cli(['plan', 'edit', id], "sed -i 's/^summary: .*/summary: [open/'");
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /not valid YAML/);
    const badPath = /kept in (\S+\.yaml)/.exec(bad.stderr)?.[1];
    assert.ok(badPath && existsSync(badPath), bad.stderr);
    await rm(dirname(badPath), { recursive: true, force: true });

    // Applied: the file is gone.
    const good = await cli(['plan', 'edit', id], "sed -i 's/^summary: .*/summary: Edited/'");
    assert.equal(good.code, 0, good.stderr);
    assert.equal((await alice.plans.get(id)).summary, 'Edited');
    assert.doesNotMatch(good.stderr, /kept in/);
  });

  test('unchanged, emptied, a failing editor, and exit codes of refused edits and bad command lines', async () => {
    const id = await draft();
    const before = await alice.plans.get(id);

    const unchanged = await cli(['plan', 'edit', id], 'true');
    assert.equal(unchanged.code, 0, unchanged.stderr);
    assert.match(unchanged.stderr, /saved unchanged; plan \S+ is as it was/);

    const emptied = await cli(['plan', 'edit', id], 'truncate -s 0');
    assert.equal(emptied.code, 1, emptied.stderr);
    assert.match(emptied.stderr, /The plan file was emptied: edit aborted/);

    const failing = await cli(['plan', 'edit', id], 'false');
    assert.equal(failing.code, 1, failing.stderr);
    assert.match(failing.stderr, /The editor \(false\) exited 1: nothing changed/);
    const failedPath = /kept in (\S+\.yaml)/.exec(failing.stderr)?.[1];
    assert.ok(failedPath && existsSync(failedPath), failing.stderr);
    await rm(dirname(failedPath), { recursive: true, force: true });
    assert.deepEqual(await alice.plans.get(id), before, 'nothing changed');

    for (const args of [
      ['--file', 'plan.yaml', '--remove', 'second'],
      ['--file', 'plan.yaml', '--criterion', 'first', 'more'],
      ['--criterion', 'first', 'more', 'words'],
      ['--criterion', 'first', 'more', '--check', 'true', '--check', 'false'],
    ]) {
      const usage = await cli(['plan', 'edit', id, ...args]);
      assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
    }

    await alice.plans.close(id);
    const closed = await cli(['plan', 'edit', id, '--criterion', 'first', 'more']);
    assert.equal(closed.code, 1, closed.stderr);
    assert.match(closed.stderr, /Cannot edit plan .*: it is closed/);
  });

  test('ifUpdatedAt: an edit of a plan that changed since it was read is a 409 plan_changed', async () => {
    const id = await draft();
    const read = await alice.plans.get(id);
    const edited = await alice.plans.editSpec(
      id,
      { ...spec(), summary: 'First edit' },
      {
        ifUpdatedAt: read.updatedAt,
      },
    );
    await assert.rejects(
      alice.plans.editSpec(
        id,
        { ...spec(), summary: 'Lost edit' },
        { ifUpdatedAt: read.updatedAt },
      ),
      (error: unknown) => error instanceof ConflictError && error.code === 'plan_changed',
    );
    assert.equal((await alice.plans.get(id)).summary, 'First edit');
    assert.equal(
      (await alice.plans.editSpec(id, spec(), { ifUpdatedAt: edited.updatedAt })).summary,
      'Two steps',
    );
  });

  test('watch exits 1 on a failed plan and 3 on a stopped one; create --json --wait prints the failed plan and exits 1', async () => {
    const repository = server.server.services.repository;
    for (const [status, code] of [
      ['failed', 1],
      ['stopped', 3],
    ] as const) {
      const id = await draft();
      const plan = await repository.getPlan('alice', id);
      assert.ok(plan);
      await repository.appendPlanEvent(id, {
        at: new Date().toISOString(),
        data: { type: 'plan_status', from: 'draft', to: status, reason: `it ${status}` },
      });
      await repository.updatePlan(id, { status, reason: `it ${status}` });
      const watched = await cli(['plan', 'watch', id]);
      assert.equal(watched.code, code, watched.stderr);
      assert.match(
        watched.stdout.toString(),
        new RegExp(`^${id} is ${status}: it ${status}; `, 'm'),
      );
    }

    // No planner model can be resolved here: the planner gives up, the plan fails.
    const created = await cli([
      'plan',
      'create',
      '-p',
      'app',
      'Plan this',
      '--model',
      'ollama:none',
      '--json',
      '--wait',
    ]);
    assert.equal(created.code, 1, created.stderr);
    const printed = JSON.parse(created.stdout.toString()) as { status: string; reason: string };
    assert.equal(printed.status, 'failed');
    assert.match(printed.reason, /the planner gave up/);
  });
});
