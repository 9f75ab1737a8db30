/**
 * `GET /v1/sandboxes/{name}/directory` against a real `mags server` on the namespace runtime:
 * entries with their type, size, mode, time and a symlink's target, sorted; names holding a
 * newline or bytes that are not UTF-8; a missing path (404), a file (400), a relative path
 * (400); a cap with `truncated`; and no job made by any listing.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { MagsError } from '../src/errors/mags-error.ts';
import { Mags } from '../src/sdk/index.ts';
import { startServerProcess } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping directory listing tests: ${skip}\n`);

describe('directory listings on a real server process', { skip, timeout: 300_000 }, () => {
  let testHome: TestHome;
  let server: { child: ChildProcess; url: string };
  let token: string;
  let mags: Mags;
  let jobsBefore: number;
  const sandbox = 'listing';

  before(async () => {
    testHome = await createTestHome();
    server = await startServerProcess({ ...process.env, MAGS_HOME: testHome.home }, [
      '--pool-size',
      '0',
    ]);
    const created = await runCli(testHome.home, ['token', 'create', '--owner', 'alice']);
    assert.equal(created.code, 0, created.stderr);
    token = created.stdout.toString().trim();
    mags = new Mags({ url: server.url, token });
    await mags.sandboxes.create({ name: sandbox, ephemeral: true });
    const setup = await mags.sandboxes.execAndWait(sandbox, [
      'bash',
      '-c',
      [
        'set -e; mkdir -p /workspace/d/sub /workspace/many',
        'printf hello > /workspace/d/b.txt; chmod 600 /workspace/d/b.txt',
        "touch /workspace/d/$'two\\nlines' /workspace/d/$'latin\\xe9'",
        'ln -s b.txt /workspace/d/link',
        "cd /workspace/many && seq -f 'f%05g' 1 10001 | xargs touch",
      ].join('; '),
    ]);
    assert.equal(setup.exitCode, 0, setup.stderr);
    jobsBefore = (await mags.jobs.list()).jobs.length;
  });
  after(async () => {
    await mags?.sandboxes.delete(sandbox).catch(() => {});
    server?.child.kill('SIGKILL');
    await testHome?.cleanup();
  });

  test('entries, sorted, with a newline in a name and bytes that are not UTF-8 as text', async () => {
    const listing = await mags.sandboxes.files.list(sandbox, '/workspace/d');
    assert.equal(listing.truncated, false);
    assert.deepEqual(
      listing.entries.map((entry) => [entry.name, entry.type]),
      [
        ['b.txt', 'file'],
        ['latin\uFFFD', 'file'],
        ['link', 'symlink'],
        ['sub', 'directory'],
        ['two\nlines', 'file'],
      ],
    );
    const file = listing.entries[0];
    assert.equal(file?.sizeBytes, 5);
    assert.equal(file?.mode, '0600');
    assert.ok(Math.abs(Date.parse(file?.modifiedAt ?? '') - Date.now()) < 10 * 60_000);
    assert.equal(listing.entries[2]?.target, 'b.txt');
    // A trailing slash and the root are directories too.
    assert.equal((await mags.sandboxes.files.list(sandbox, '/workspace/d/')).entries.length, 5);
    const root = await mags.sandboxes.files.list(sandbox, '/');
    assert.ok(root.entries.some((entry) => entry.name === 'workspace'));
  });

  test('a missing path is a 404, a file a 400, a relative path a 400', async () => {
    const failure = (path: string) =>
      mags.sandboxes.files.list(sandbox, path).then(
        () => assert.fail(`${path} was listed`),
        (error: unknown) => error as MagsError,
      );
    const missing = await failure('/workspace/nope');
    assert.ok(missing instanceof MagsError);
    assert.equal(missing.statusCode, 404);
    assert.match(missing.message, /No directory \/workspace\/nope in the sandbox/);
    const file = await failure('/workspace/d/b.txt');
    assert.equal(file.statusCode, 400);
    assert.match(file.message, /is not a directory/);
    const relative = await failure('workspace');
    assert.equal(relative.statusCode, 400);
    assert.match(relative.message, /absolute/);
  });

  test('past 10,000 entries the rest is left out, and truncated says so', async () => {
    const listing = await mags.sandboxes.files.list(sandbox, '/workspace/many');
    assert.equal(listing.truncated, true);
    assert.equal(listing.entries.length, 10_000);
    const names = listing.entries.map((entry) => entry.name);
    assert.deepEqual(names, [...names].sort());
  });

  test('listings make no jobs', async () => {
    assert.equal((await mags.jobs.list()).jobs.length, jobsBefore);
  });
});
