import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { checkImageReference, imageIdOf } from './oci-image-ids.ts';
import { treeEntries } from './tree-entries.ts';

test('a stored owner is un-shifted inside the sandbox range; any other host id becomes 0', () => {
  assert.equal(imageIdOf(100_000, 100_000), 0);
  assert.equal(imageIdOf(101_000, 100_000), 1000);
  assert.equal(imageIdOf(165_535, 100_000), 65_535);
  assert.equal(imageIdOf(165_536, 100_000), 0, 'past the range: no host id in the image');
  assert.equal(imageIdOf(1000, 100_000), 0, 'a host user below the range');
  assert.equal(imageIdOf(0, 100_000), 0);
});

test('--tag: image references are taken, anything else refused before a build', () => {
  for (const good of [
    'mags-default:0.1.0',
    'registry.example.com/mags/sandbox:1',
    'localhost:5000/mags/server',
    'ghcr.io/some-org/mags__x/sandbox:v1.2_rc-3',
  ]) {
    assert.equal(checkImageReference(good), good);
  }
  for (const bad of [
    '',
    'Mags:1',
    'mags:',
    'mags:1:2',
    'mags sandbox',
    '/mags',
    'mags@sha256:ab',
    `m:${'x'.repeat(129)}`,
  ]) {
    assert.throws(
      () => checkImageReference(bad),
      (error: unknown) =>
        error instanceof InvalidInputError && /not an image reference/.test(error.message),
      bad,
    );
  }
});

test('a file name that is not UTF-8 is a clear error naming its directory and bytes', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'mags-oci-names-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'fine.txt'), 'x');
  try {
    await writeFile(Buffer.concat([Buffer.from(`${root}/caf`), Buffer.from([0xe9])]), 'latin-1');
  } catch (error) {
    return t.skip(`this filesystem refuses non-UTF-8 names: ${(error as Error).message}`);
  }
  await assert.rejects(
    async () => {
      for await (const _entry of treeEntries(root, { toImageId: (id) => id })) {
        // Walking is enough.
      }
    },
    (error: unknown) =>
      error instanceof InvalidInputError &&
      error.message.includes(root) &&
      error.message.includes('636166e9'),
  );
});
