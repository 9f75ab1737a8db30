import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createShiftedIdMapping } from '../runtimes/namespace/id-mapping.ts';
import {
  ensureImageDefaultsLayer,
  imageDefaultsLayerPath,
  imageDefaultsVersion,
} from './image-defaults.ts';
import { ImageStore } from './image-store.ts';

const asRoot = process.getuid?.() === 0;
let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mags-image-defaults-'));
});
after(() => rm(root, { recursive: true, force: true }));

test('the layer holds the git identity and the npm config, owned by the sandbox root', async () => {
  const layer = imageDefaultsLayerPath(join(root, 'one'), 100_000);
  assert.equal(layer, join(root, 'one', '.defaults', `v${imageDefaultsVersion}-uid100000`));
  await ensureImageDefaultsLayer(layer, 100_000);
  assert.match(
    await readFile(join(layer, 'etc/gitconfig'), 'utf8'),
    /name = mags\n\temail = mags@localhost/,
  );
  assert.match(
    await readFile(join(layer, 'usr/local/etc/npmrc'), 'utf8'),
    /^update-notifier=false$/m,
  );
  for (const [path, mode] of [
    ['', 0o755],
    ['etc', 0o755],
    ['usr/local/etc', 0o755],
    ['etc/gitconfig', 0o644],
    ['usr/local/etc/npmrc', 0o644],
  ] as const) {
    const stats = await stat(join(layer, path));
    assert.equal(stats.mode & 0o7777, mode, path);
    if (asRoot) assert.deepEqual([stats.uid, stats.gid], [100_000, 100_000], path);
  }
  // In place, it is never written again: a mounted overlay may be using it.
  const before = await stat(join(layer, 'etc/gitconfig'));
  await ensureImageDefaultsLayer(layer, 100_000);
  const again = await stat(join(layer, 'etc/gitconfig'));
  assert.deepEqual([again.ino, again.mtimeMs], [before.ino, before.mtimeMs]);
});

test('processes creating it at once agree on one whole layer and leave no staging', async () => {
  const layer = imageDefaultsLayerPath(join(root, 'race'), 100_000);
  await Promise.all(Array.from({ length: 8 }, () => ensureImageDefaultsLayer(layer, 100_000)));
  assert.deepEqual(await readdir(join(root, 'race', '.defaults')), [
    `v${imageDefaultsVersion}-uid100000`,
  ]);
  assert.deepEqual((await readdir(join(layer, 'etc'))).sort(), ['gitconfig']);
});

test('a staging directory of a process that died is removed, a live one is kept', async () => {
  const parent = join(root, 'crash', '.defaults');
  await mkdir(parent, { recursive: true });
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  await mkdir(join(parent, `.staging-${dead}-x`));
  await mkdir(join(parent, `.staging-${process.ppid}-y`));
  await ensureImageDefaultsLayer(join(parent, 'v1-uid100000'), 100_000);
  assert.deepEqual((await readdir(parent)).sort(), [`.staging-${process.ppid}-y`, 'v1-uid100000']);
});

test('ImageStore: an image stacks its rootfs above the defaults, and neither is written to', async () => {
  const home = join(root, 'home');
  const image = join(home, 'images', 'old');
  await mkdir(join(image, 'rootfs', 'etc'), { recursive: true });
  // An image.json as a mags before the defaults wrote it.
  const stored = `${JSON.stringify({ name: 'old', uidBase: 100_000, versions: {} }, null, 2)}\n`;
  await writeFile(join(image, 'image.json'), stored);
  const store = new ImageStore({ home, idMapping: createShiftedIdMapping({ uidBase: 100_000 }) });
  const defaults = imageDefaultsLayerPath(join(home, 'images'), 100_000);
  const listed = await store.get('old');
  assert.deepEqual(listed?.lowerLayers, [join(image, 'rootfs'), defaults]);
  await assert.rejects(stat(defaults), { code: 'ENOENT' }); // only a sandbox needs it
  const required = await store.require('old');
  assert.deepEqual(required.lowerLayers, listed?.lowerLayers);
  assert.ok((await stat(join(defaults, 'etc/gitconfig'))).isFile());
  assert.deepEqual(await readdir(join(image, 'rootfs', 'etc')), []);
  assert.equal(await readFile(join(image, 'image.json'), 'utf8'), stored);
  // The dot-named layer directory is not an image, and deleting an image leaves it to the others.
  assert.deepEqual(
    (await store.list()).map((each) => each.name),
    ['old'],
  );
  await store.delete('old');
  assert.deepEqual(await store.list(), []);
  assert.ok((await stat(join(defaults, 'usr/local/etc/npmrc'))).isFile());
});
