import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  entriesDigest,
  type Manifest,
  type ManifestEntry,
  type PackReference,
} from './manifest.ts';
import { sparsePacks, storedContents } from './stored-contents.ts';

function manifest(entries: ManifestEntry[], packs: PackReference[]): Manifest {
  return {
    format: 'mags-workspace-manifest-v2',
    workspace: 'w',
    version: 1,
    parentVersion: null,
    createdAt: new Date(0).toISOString(),
    host: 'test',
    totalBytes: 0,
    entries,
    packs,
    entriesSha256: entriesDigest(entries, packs),
  };
}

const file = (path: string, chunks: string[], extra: Partial<ManifestEntry> = {}): ManifestEntry =>
  ({
    path,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtimeMs: 0,
    size: 10,
    chunks,
    ...extra,
  }) as ManifestEntry;

test('stored contents: packed files by place, chunked ones as chunks, one pack object per hash', () => {
  const first = manifest(
    [
      file('a', ['h1'], { pack: 0, offset: 0 }),
      file('b', ['h2'], { pack: 0, offset: 10 }),
      file('big', ['c1', 'c2']),
      file('bad', ['h9'], { pack: 7, offset: 0 }),
    ],
    [{ hash: 'p1', bytes: 20 }],
  );
  const second = manifest([file('c', ['h3'], { pack: 0, offset: 0 })], [{ hash: 'p1', bytes: 20 }]);
  const contents = storedContents([first, second]);
  const a = contents.get('h1');
  const c = contents.get('h3');
  assert.ok(a !== undefined && a !== 'chunk' && c !== undefined && c !== 'chunk');
  assert.equal(a.pack, c.pack, 'the same pack in two manifests is one object');
  assert.equal(contents.get('c1'), 'chunk');
  assert.equal(contents.get('h9'), undefined, 'a reference outside the packs is not trusted');
});

test('sparse packs: a pack read for less than half its bytes is packed again', () => {
  const pack = { hash: 'p', bytes: 100 };
  const other = { hash: 'q', bytes: 100 };
  const use = (reference: PackReference, offset: number, size: number) => ({
    packed: { pack: reference, offset },
    size,
  });
  const sparse = sparsePacks(
    [
      use(pack, 0, 30),
      use(pack, 0, 30), // the same content at two paths counts once
      use(pack, 40, 19),
      { size: 1000 }, // not packed
      use(other, 0, 50),
    ],
    0.5,
  );
  assert.deepEqual([...sparse], [pack]);
});
