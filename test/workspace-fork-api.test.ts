/**
 * Workspace fork through a server (`POST /v1/workspaces/{name}/fork`, `mags.workspaces.fork`):
 * owner-scoped (an owner forks only their own, into their own), refused with a clear 409 while
 * the source runs, a parked sandbox of the source dropped instead, a fork's disk counted against
 * the owner's quota, errors in the owner's words, and bad input refused before anything changes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  QuotaExceededError,
} from '../src/errors/mags-error.ts';
import type { Mags } from '../src/sdk/mags.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping workspace fork API tests: ${skip}\n`);

const limits = { diskMiB: 64 };

describe('workspace fork through a server', { skip }, () => {
  let server: TestServer;
  let alice: Mags;
  let bob: Mags;
  let token: string;
  before(async () => {
    server = await startTestServer({
      scheduling: { poolSize: 0 },
      disks: { maxDiskMiB: 128, ownerDiskQuotaMiB: 256 },
    });
    const client = await server.client('alice');
    alice = client.mags;
    token = client.token;
    bob = (await server.client('bob')).mags;
  });
  after(() => server?.close());

  const run = async (mags: Mags, workspace: string, command: string) => {
    const result = await mags.runAndWait(command, { workspace, limits });
    assert.equal(result.exitCode, 0, JSON.stringify(result.job));
    return result.stdout;
  };

  test('a running source is a 409; a stopped one forks; forks are the owner’s own', async () => {
    await run(alice, 'app', 'echo secret > s');
    await alice.sandboxes.create({ name: 'box', workspace: 'app', limits });
    await assert.rejects(alice.workspaces.fork('app', 'copy'), (error: unknown) => {
      assert.ok(error instanceof ConflictError, String(error));
      assert.equal(error.code, 'workspace_busy');
      assert.match(error.message, /^Workspace "app" is in use by a run; a fork needs it idle\./);
      return true;
    });
    await alice.sandboxes.delete('box');
    const copy = await alice.workspaces.fork('app', 'copy');
    assert.equal(copy.name, 'copy');
    assert.equal(copy.forkedFrom, 'app');
    assert.equal(copy.diskBytes, 64 * 1024 * 1024);
    assert.equal(await run(alice, 'copy', 'cat s'), 'secret\n');

    // Bob has no "app": a 404, whatever Alice has; and he never sees her workspaces.
    await assert.rejects(bob.workspaces.fork('app', 'mine'), NotFoundError);
    assert.deepEqual(await bob.workspaces.list(), []);
    const listed = await alice.workspaces.list();
    assert.deepEqual(
      listed.map((entry) => [entry.name, entry.forkedFrom]),
      [
        ['app', null],
        ['copy', 'app'],
      ],
    );

    // The source cannot go while its fork builds on it: named in Alice's words.
    await assert.rejects(alice.workspaces.delete('app'), (error: unknown) => {
      assert.ok(error instanceof ConflictError, String(error));
      assert.equal(error.code, 'workspace_has_forks');
      assert.equal(
        error.message,
        'Workspace "app" cannot be deleted: the fork "copy" builds on it.',
      );
      return true;
    });
  });

  test('a parked sandbox of the source is dropped, not a refusal', async () => {
    await run(alice, 'warm', 'echo 1 > one');
    // The run's sandbox is parked holding the workspace; the fork takes it over.
    const forked = await alice.workspaces.fork('warm', 'warm-fork');
    assert.equal(forked.forkedFrom, 'warm');
    await run(alice, 'warm', 'echo 2 > two');
    assert.equal(await run(alice, 'warm-fork', 'ls'), 'one\n');
  });

  test("a fork's disk counts against the owner's quota", async () => {
    // app, copy, warm, warm-fork: 4 x 64 MiB, the whole quota of 256 MiB.
    await assert.rejects(alice.workspaces.fork('app', 'third'), (error: unknown) => {
      assert.ok(error instanceof QuotaExceededError, String(error));
      assert.equal(error.code, 'owner_disk_quota');
      assert.match(error.message, /^Workspace "third" would take/);
      return true;
    });
    assert.ok(!(await alice.workspaces.list()).some((entry) => entry.name === 'third'));
  });

  test('bad input: the new name, a taken name, a missing source, traversal in the path', async () => {
    for (const bad of ['../escape', 'a/b', '', '.x', 'x..y']) {
      await assert.rejects(alice.workspaces.fork('app', bad), InvalidInputError, bad);
    }
    await assert.rejects(alice.workspaces.fork('app', 'copy'), (error: unknown) => {
      assert.ok(error instanceof ConflictError, String(error));
      assert.equal(error.code, 'workspace_exists');
      assert.equal(error.message, 'Workspace "copy" already exists.');
      return true;
    });
    await assert.rejects(alice.workspaces.fork('nope', 'other'), (error: unknown) => {
      assert.ok(error instanceof NotFoundError, String(error));
      assert.equal(error.code, 'workspace_not_found');
      return true;
    });
    for (const path of ['..', '..%2Fbob.app', '%2E%2E']) {
      const response = await fetch(`${server.url}/v1/workspaces/${path}/fork`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'stolen' }),
      });
      assert.ok([400, 404].includes(response.status), `${path}: ${response.status}`);
    }
    assert.ok(!(await alice.workspaces.list()).some((entry) => entry.name === 'stolen'));
    // Nothing above touched the source.
    assert.equal(await run(alice, 'app', 'cat s'), 'secret\n');
  });
});
