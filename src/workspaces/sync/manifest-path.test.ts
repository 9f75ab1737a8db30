import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MagsError } from '../../errors/mags-error.ts';
import { decodeManifestPath, encodeManifestPath, pathBelow, pathKey } from './manifest-path.ts';

test('UTF-8 paths stay plain text, as manifests written before byte paths hold them', () => {
  for (const text of ['workspace/a.txt', 'ünïcødé/日本/😀', 'line\nbreak \\ "quoted"']) {
    assert.equal(encodeManifestPath(Buffer.from(text)), text);
    assert.deepEqual(decodeManifestPath(text), Buffer.from(text));
    assert.equal(pathKey(Buffer.from(text)), text);
  }
});

test('any other bytes are kept exactly, and never collide with a text path', () => {
  for (const hex of ['ff', '80', 'c0af', 'eda080', 'e282', 'f4908080', '612fff2f62']) {
    const bytes = Buffer.from(hex, 'hex');
    const encoded = encodeManifestPath(bytes);
    assert.equal(typeof encoded, 'object', hex);
    assert.deepEqual(decodeManifestPath(JSON.parse(JSON.stringify(encoded))), bytes);
    assert.ok(pathKey(bytes).startsWith('\0'));
  }
});

test('a manifest path that would leave the layer is refused', () => {
  for (const path of ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'a/./b', 'a/', '']) {
    assert.throws(
      () => pathBelow('/layer', path),
      (error: unknown) => error instanceof MagsError && error.code === 'manifest_corrupted',
      path,
    );
  }
  assert.deepEqual(
    pathBelow('/layer', { base64: Buffer.from('a/\xff', 'latin1').toString('base64') }),
    Buffer.from('/layer/a/\xff', 'latin1'),
  );
});
