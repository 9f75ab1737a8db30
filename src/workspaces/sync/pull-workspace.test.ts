import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { identityIdMapping } from '../../config/id-mapping.ts';
import { MagsError } from '../../errors/mags-error.ts';
import { createFilesystemObjectStore } from '../../storage/filesystem/filesystem-object-store.ts';
import { entriesDigest, type Manifest, type ManifestEntry } from './manifest.ts';
import { pullWorkspace } from './pull-workspace.ts';

let directory = '';
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mags-pull-'));
});
after(() => rm(directory, { recursive: true, force: true }));

function manifest(entries: ManifestEntry[]): Manifest {
  return {
    format: 'mags-workspace-manifest-v1',
    workspace: 'crafted',
    version: 1,
    parentVersion: null,
    createdAt: new Date().toISOString(),
    host: 'test',
    totalBytes: 0,
    entries,
    entriesSha256: entriesDigest(entries),
  };
}

const owned = { uid: 0, gid: 0, mtimeMs: 0 };

test('a crafted manifest cannot write through a symlink it restored (a -> outside, then a/x)', async () => {
  const outside = join(directory, 'outside');
  await mkdir(outside);
  const cases: ManifestEntry[][] = [
    [
      { path: 'a', type: 'symlink', target: outside, ...owned },
      { path: 'a/x', type: 'directory', mode: 0o755, ...owned },
    ],
    [
      { path: 'a', type: 'symlink', target: outside, ...owned },
      { path: 'a/x', type: 'file', mode: 0o644, size: 0, chunks: [], ...owned },
    ],
    [
      { path: 'a', type: 'symlink', target: outside, ...owned },
      { path: 'b', type: 'file', mode: 0o644, size: 0, chunks: [], linkOf: 'a/x', ...owned },
    ],
  ];
  for (const [index, entries] of cases.entries()) {
    const target = join(directory, `layer-${index}`);
    await mkdir(target);
    await assert.rejects(
      pullWorkspace({
        store: createFilesystemObjectStore({ root: join(directory, 'store') }),
        manifest: manifest(entries),
        targetDirectory: target,
        cacheDirectory: join(directory, 'cache'),
        idMapping: identityIdMapping,
      }),
      (error: unknown) => error instanceof MagsError && error.code === 'manifest_corrupted',
    );
    assert.equal(existsSync(join(outside, 'x')), false, `case ${index} wrote outside the layer`);
  }
});
