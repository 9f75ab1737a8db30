/**
 * Workspace fork (issue 11, part 5) end to end through the real CLI, launcher and agent: a fork
 * starts as a copy of its source, the two diverge without either seeing the other's writes,
 * forks of forks work, a source that forks build on cannot be deleted (the forks are named), a
 * `-p` sync of a fork shares its source's chunks in the store, and the listing names the source.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping workspace fork tests: ${skip}\n`);

/** Every object under `chunks/` and `packs/` of a filesystem store. */
async function chunkKeys(store: string): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const kind of ['chunks', 'packs']) {
    const root = join(store, kind);
    for (const prefix of await readdir(root).catch(() => [] as string[])) {
      for (const name of await readdir(join(root, prefix))) keys.add(`${kind}/${name}`);
    }
  }
  return keys;
}

describe('workspace fork', { skip }, () => {
  let testHome: TestHome;
  let home: string;
  let store: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(home, args, { env });
  const run = async (workspace: string, script: string) => {
    const result = await cli('run', '-w', workspace, script);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.toString();
  };

  before(async () => {
    testHome = await createTestHome();
    home = testHome.home;
    store = await mkdtemp(join(tmpdir(), 'mags-test-store-'));
    env = { MAGS_STORE_DIR: store, MAGS_S3_BUCKET: '' };
  });
  after(async () => {
    await testHome.cleanup();
    await rm(store, { recursive: true, force: true });
  });

  test('a fork starts as a copy, then source and fork diverge both ways', async () => {
    await run('src', 'echo one > a && mkdir d && echo x > d/x && echo gone > g && rm /etc/issue');
    const forked = await cli('workspace', 'fork', 'src', 'copy');
    assert.equal(forked.code, 0, forked.stderr);
    assert.match(forked.stderr, /Forked src as copy/);
    // Everything the source held, including a file of the image it deleted.
    assert.equal(
      await run('copy', 'cat a d/x g; test -e /etc/issue || echo no-issue'),
      'one\nx\ngone\nno-issue\n',
    );

    await run('src', 'echo two > a && echo s > s && rm g');
    await run('copy', 'echo fork > a && echo f > f && rm d/x');
    assert.equal(await run('src', 'cat a; ls; ls d'), 'two\na\nd\ns\nx\n');
    assert.equal(await run('copy', 'cat a; ls; ls d'), 'fork\na\nd\nf\ng\n');

    const listed = await cli('workspace', 'list', '--json');
    const entries = JSON.parse(listed.stdout.toString()) as Array<{
      name: string;
      forkedFrom: string | null;
    }>;
    assert.equal(entries.find((entry) => entry.name === 'copy')?.forkedFrom, 'src');
    assert.equal(entries.find((entry) => entry.name === 'src')?.forkedFrom, null);
    assert.match((await cli('workspace', 'list')).stdout.toString(), /FORKED FROM/);
  });

  test('a fork of a fork sees both layers below it; sources with forks cannot be deleted', async () => {
    await run('base', 'echo 1 > one');
    assert.equal((await cli('workspace', 'fork', 'base', 'mid')).code, 0);
    await run('mid', 'echo 2 > two && rm one');
    assert.equal((await cli('workspace', 'fork', 'mid', 'leaf')).code, 0);
    await run('mid', 'echo later > later');
    assert.equal(await run('leaf', 'ls; cat two'), 'two\n2\n');
    assert.equal(await run('base', 'ls'), 'one\n');

    const refused = await cli('workspace', 'delete', 'base');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Workspace "base" cannot be deleted: the forks "leaf", "mid"/);
    const middle = await cli('workspace', 'delete', 'mid');
    assert.match(middle.stderr, /the fork "leaf" builds on it/);
    // Nothing was harmed by the refusals.
    assert.equal(await run('leaf', 'cat two'), '2\n');
    assert.equal(await run('base', 'cat one'), '1\n');

    for (const name of ['leaf', 'mid', 'base']) {
      const deleted = await cli('workspace', 'delete', name);
      assert.equal(deleted.code, 0, deleted.stderr);
    }
    assert.ok(!existsSync(join(home, 'workspaces', 'base')));
  });

  test('bad input: names, an existing target, a missing source', async () => {
    await run('named', 'true');
    for (const bad of ['../escape', 'a/b', '.hidden', 'x..y']) {
      const result = await cli('workspace', 'fork', 'named', bad);
      assert.equal(result.code, 2, bad); // invalid input, as for any command
      assert.match(result.stderr, /Invalid workspace name/);
    }
    const taken = await cli('workspace', 'fork', 'named', 'src');
    assert.match(taken.stderr, /Workspace "src" already exists/);
    const self = await cli('workspace', 'fork', 'named', 'named');
    assert.match(self.stderr, /cannot be forked onto itself/);
    const missing = await cli('workspace', 'fork', 'nope', 'other');
    assert.match(missing.stderr, /Workspace "nope" does not exist/);
    assert.ok(!existsSync(join(home, 'workspaces', 'other')));
  });

  test('-p sync of a fork stores only what the fork changed; a pull restores all of it', async () => {
    await run(
      'big',
      'for i in 1 2 3 4; do head -c 3000000 /dev/urandom > r$i; done; rm /etc/issue',
    );
    const first = await cli('sync', 'big', '--json');
    assert.equal(first.code, 0, first.stderr);
    const before = await chunkKeys(store);
    assert.ok(before.size >= 4, `chunks: ${before.size}`);

    assert.equal((await cli('workspace', 'fork', 'big', 'big-fork')).code, 0);
    const persisted = await cli(
      'run',
      '-w',
      'big-fork',
      '-p',
      'echo changed > r1 && echo new > n && rm r4',
    );
    assert.equal(persisted.code, 0, persisted.stderr);
    const after = await chunkKeys(store);
    const added = [...after].filter((key) => !before.has(key));
    // The two small files the fork wrote (in one pack), nothing of what it shares with its source.
    assert.deepEqual(
      added.map((key) => key.split('/')[0]),
      ['packs'],
      `new objects: ${added.join(' ')}`,
    );

    // The stored version is the whole fork: restored as one layer, it needs no source.
    assert.equal((await cli('workspace', 'delete', 'big-fork', '--local-only')).code, 0);
    const pulled = await cli('workspace', 'pull', 'big-fork');
    assert.equal(pulled.code, 0, pulled.stderr);
    // Whiteouts of both layers came along: the fork's of r4, the source's of an image file.
    assert.equal(
      await run('big-fork', 'cat r1 n; ls; test -e /etc/issue || echo no-issue'),
      'changed\nnew\nn\nr1\nr2\nr3\nno-issue\n',
    );
    const listed = JSON.parse(
      (await cli('workspace', 'list', '--json')).stdout.toString(),
    ) as Array<{
      name: string;
      forkedFrom: string | null;
    }>;
    assert.equal(listed.find((entry) => entry.name === 'big-fork')?.forkedFrom, null);
    // big has no forks any more.
    assert.equal((await cli('workspace', 'delete', 'big', '--local-only')).code, 0);
  });
});
