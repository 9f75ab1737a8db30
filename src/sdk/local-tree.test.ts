/**
 * The host's extraction of a downloaded tree (src/sdk/local-tree.ts) with archives made here by
 * node-tar: no setuid, setgid or sticky bit ever lands on the host, fresh or merged; a damaged
 * archive and a missing destination directory are clear errors that leave nothing.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { extractLocalTree, packLocalTree } from './local-tree.ts';

async function* chunks(...buffers: Buffer[]): AsyncGenerator<Buffer> {
  yield* buffers;
}

let home: string;
before(async () => {
  home = await mkdtemp(join(tmpdir(), 'mags-test-local-tree-'));
});
after(() => rm(home, { recursive: true, force: true }));

test('setuid, setgid and sticky bits in an archive are dropped on the host', async () => {
  const source = join(home, 'source');
  await mkdir(join(source, 'shared'), { recursive: true });
  await writeFile(join(source, 'suid'), '#!/bin/sh\n');
  await chmod(join(source, 'suid'), 0o4755);
  await writeFile(join(source, 'sgid'), '#!/bin/sh\n');
  await chmod(join(source, 'sgid'), 0o2755);
  await chmod(join(source, 'shared'), 0o3775);
  // The archive really carries the bits (node-tar's `portable` keeps them).
  assert.equal((await stat(join(source, 'suid'))).mode & 0o7777, 0o4755);

  const target = join(home, 'target');
  for (const round of ['fresh', 'merged onto the first copy']) {
    const { stream } = await packLocalTree(source, 'source');
    await extractLocalTree(stream, target);
    for (const name of ['suid', 'sgid', 'shared']) {
      const mode = (await stat(join(target, name))).mode;
      assert.equal(mode & 0o7000, 0, `${round}: ${name} has mode ${(mode & 0o7777).toString(8)}`);
    }
    assert.equal((await stat(join(target, 'suid'))).mode & 0o111, 0o111, 'still executable');
  }
  // The merge copies the staged directory's mode onto an existing one: a sticky bit already
  // there is not kept either (the downloaded mode wins, without the special bits).
  await chmod(target, 0o1777);
  const { stream } = await packLocalTree(source, 'source');
  await extractLocalTree(stream, target);
  assert.equal((await stat(target)).mode & 0o7000, 0);
});

test('a stream that is not tar is refused as unreadable, and nothing is left', async () => {
  const place = join(home, 'damaged');
  await mkdir(place);
  await assert.rejects(
    extractLocalTree(chunks(Buffer.alloc(2048, 'not a tar archive ')), join(place, 'copy')),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'archive_refused');
      assert.match(error.message, /unreadable \(not tar, or damaged\)/);
      return true;
    },
  );
  assert.deepEqual(await readdir(place), []);
});

test('a destination in a directory that does not exist is a clear error', async () => {
  const { stream } = await packLocalTree(join(home, 'source'), 'source');
  await assert.rejects(extractLocalTree(stream, join(home, 'absent', 'copy')), {
    code: 'invalid_input',
    message: /absent is not a directory here/,
  });
});
