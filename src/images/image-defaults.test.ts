import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { applyImageDefaults, imageDefaultsVersion, writeImageDefaults } from './image-defaults.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mags-image-defaults-'));
});
after(() => rm(root, { recursive: true, force: true }));

test('writes the git identity and the npm config where the image has the directories', async () => {
  const rootfs = join(root, 'plain');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await mkdir(join(rootfs, 'usr/local/etc'), { recursive: true });
  assert.deepEqual((await writeImageDefaults(rootfs)).sort(), [
    'etc/gitconfig',
    'usr/local/etc/npmrc',
  ]);
  assert.match(
    await readFile(join(rootfs, 'etc/gitconfig'), 'utf8'),
    /name = mags\n\temail = mags@localhost/,
  );
  assert.match(
    await readFile(join(rootfs, 'usr/local/etc/npmrc'), 'utf8'),
    /^update-notifier=false$/m,
  );
  assert.equal((await stat(join(rootfs, 'etc/gitconfig'))).mode & 0o777, 0o644);
  // A second pass has nothing to do.
  assert.deepEqual(await writeImageDefaults(rootfs), []);
});

test('a file the image already has is kept, and a missing directory skips its file', async () => {
  const rootfs = join(root, 'own');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(join(rootfs, 'etc/gitconfig'), '[user]\n\tname = Own\n');
  assert.deepEqual(await writeImageDefaults(rootfs), []);
  assert.equal(await readFile(join(rootfs, 'etc/gitconfig'), 'utf8'), '[user]\n\tname = Own\n');
});

test('an image of an older mags gets the files owned like their directory, once', {
  skip: process.getuid?.() === 0 ? undefined : 'chown to another uid needs root',
}, async () => {
  const image = join(root, 'old');
  const rootfs = join(image, 'rootfs');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await mkdir(join(rootfs, 'usr/local/etc'), { recursive: true });
  // As a built image's are: shifted to the sandbox's root (uid base 100000 here).
  await chown(join(rootfs, 'etc'), 100_000, 100_000);
  await chown(join(rootfs, 'usr/local/etc'), 100_000, 100_000);
  await writeFile(join(image, 'image.json'), JSON.stringify({ name: 'old', uidBase: 100_000 }));
  await applyImageDefaults(image);
  const gitconfig = await stat(join(rootfs, 'etc/gitconfig'));
  assert.deepEqual([gitconfig.uid, gitconfig.gid], [100_000, 100_000]);
  const info = JSON.parse(await readFile(join(image, 'image.json'), 'utf8'));
  assert.deepEqual(info, { name: 'old', uidBase: 100_000, defaultsVersion: imageDefaultsVersion });
  // Recorded: a file the user removes from the image later is not put back.
  await rm(join(rootfs, 'etc/gitconfig'));
  await applyImageDefaults(image);
  await assert.rejects(stat(join(rootfs, 'etc/gitconfig')), { code: 'ENOENT' });
});
