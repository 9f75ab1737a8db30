/**
 * What a client is told when something fails: the status its cause calls for, in the owner's own
 * words. No internal storage name (`bob.aws`), no MAGS_HOME or store path, whatever fails: the
 * files API, a busy or missing workspace version, a broken object store.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Mags } from '../src/sdk/index.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping server error tests: ${skip}\n`);

interface ErrorBody {
  error: { code: string; message: string; hint?: string; requestId?: string };
}

describe('errors a client sees', { skip, timeout: 300_000 }, () => {
  let server: TestServer;
  let broken: TestServer;
  let bob: { token: string; mags: Mags };
  let bobOnBroken: { token: string; mags: Mags };
  let scratch = '';

  /** Everything the owner must not learn: their internal names, where the server keeps things. */
  function assertNothingInternal(text: string, where: string, forServer = server): void {
    assert.doesNotMatch(text, /\bbob\./, `${where}: an owner-qualified name in ${text}`);
    assert.ok(!text.includes(forServer.testHome.home), `${where}: MAGS_HOME in ${text}`);
    assert.ok(!text.includes(scratch), `${where}: the store's path in ${text}`);
  }

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'mags-errors-'));
    // A store below a regular file: every write to it fails with ENOTDIR, naming its path.
    await writeFile(join(scratch, 'file'), '');
    server = await startTestServer({ scheduling: { poolSize: 0 } });
    broken = await startTestServer(
      { scheduling: { poolSize: 0 } },
      { MAGS_STORE_DIR: join(scratch, 'file', 'store') },
    );
    bob = await server.client('bob');
    bobOnBroken = await broken.client('bob');
    await bob.mags.sandboxes.create({ name: 'dev', workspace: 'aws' });
  });
  after(async () => {
    await server?.close();
    await broken?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  const call = async (path: string, init: RequestInit = {}, on = server, token = bob.token) => {
    const response = await fetch(`${on.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, text: await response.text() };
  };
  const code = (text: string) => (JSON.parse(text) as ErrorBody).error.code;
  const file = (path: string) => `/v1/sandboxes/dev/files?path=${encodeURIComponent(path)}`;

  test('the files API: missing 404, directory or too long a name 400', async () => {
    const attacks: [string, string, RequestInit, number, string][] = [
      ['missing file', '/workspace/missing', {}, 404, 'file_not_found'],
      ['directory', '/workspace', {}, 400, 'is_a_directory'],
      ['too long a name', `/workspace/${'n'.repeat(300)}`, {}, 400, 'name_too_long'],
      ['upload onto a directory', '/tmp', { method: 'PUT', body: 'x' }, 400, 'is_a_directory'],
    ];
    for (const [what, path, init, status, expected] of attacks) {
      const response = await call(file(path), init);
      assert.equal(response.status, status, `${what}: ${response.text}`);
      assert.equal(code(response.text), expected, what);
      assertNothingInternal(response.text, what);
    }
  });

  test("a busy workspace is named as its owner knows it, in the API and in a job's reason", async () => {
    // The long-lived sandbox `dev` holds bob's workspace `aws`.
    const remove = await call('/v1/workspaces/aws', { method: 'DELETE' });
    assert.equal(remove.status, 409, remove.text);
    assert.match(remove.text, /Workspace \\"aws\\" is in use/);
    assertNothingInternal(remove.text, 'DELETE a busy workspace');
    const run = await bob.mags.runAndWait('true', { workspace: 'aws' });
    assert.equal(run.job.status, 'failed');
    assert.match(run.job.reason ?? '', /Workspace "aws" is in use/);
    assertNothingInternal(`${run.job.reason}\n${run.stderr}`, 'run on a busy workspace');
  });

  test('a missing version: 404-worthy, without the store path', async () => {
    const run = await bob.mags.runAndWait('true', { workspace: 'gone', version: 9 });
    assert.equal(run.job.status, 'failed');
    assert.match(run.job.reason ?? '', /"gone" has no version 9 in the object store/);
    assertNothingInternal(`${run.job.reason}\n${run.stderr}`, 'missing version');
  });

  test('a broken store: a 500 with the request id, details only in the log', async () => {
    const run = await bobOnBroken.mags.runAndWait('echo x > /workspace/f', {
      workspace: 'aws',
      persist: true,
    });
    assert.equal(run.job.status, 'failed');
    assertNothingInternal(`${run.job.reason}\n${run.stderr}`, 'persist to a broken store', broken);
    const sync = await call(
      '/v1/workspaces/aws/sync',
      { method: 'POST' },
      broken,
      bobOnBroken.token,
    );
    assert.equal(sync.status, 500, sync.text);
    assert.ok((JSON.parse(sync.text) as ErrorBody).error.requestId);
    assertNothingInternal(sync.text, 'sync to a broken store', broken);
  });
});
