import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { zstdCompressSync } from 'node:zlib';
import { identityIdMapping } from '../../config/id-mapping.ts';
import { MagsError } from '../../errors/mags-error.ts';
import { createFilesystemObjectStore } from '../../storage/filesystem/filesystem-object-store.ts';
import { LayerExtractor } from './layer-extractor.ts';
import {
  decodeManifest,
  encodeManifest,
  entriesDigest,
  type Manifest,
  type ManifestEntry,
  type PackReference,
  packKey,
  sha256,
} from './manifest.ts';
import { pullWorkspace } from './pull-workspace.ts';

let directory = '';
let outside = '';
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mags-pull-'));
  outside = join(directory, 'outside');
  await mkdir(outside);
});
after(() => rm(directory, { recursive: true, force: true }));

const store = () => createFilesystemObjectStore({ root: join(directory, 'store') });

function manifest(entries: unknown[], packs?: unknown[]): Manifest {
  return {
    format: packs ? 'mags-workspace-manifest-v2' : 'mags-workspace-manifest-v1',
    workspace: 'crafted',
    version: 1,
    parentVersion: null,
    createdAt: new Date().toISOString(),
    host: 'test',
    totalBytes: 0,
    entries: entries as ManifestEntry[],
    ...(packs ? { packs: packs as PackReference[] } : {}),
    entriesSha256: entriesDigest(entries as ManifestEntry[], (packs ?? []) as PackReference[]),
  };
}

/** A pack in the store holding `contents` one after another; returns its reference. */
async function storePack(contents: Buffer[]): Promise<PackReference> {
  const raw = Buffer.concat(contents);
  const body = zstdCompressSync(raw);
  const hash = sha256(body);
  await store().put(packKey(hash), body);
  return { hash, bytes: raw.length };
}

let layers = 0;
/** Restores as a host does: the manifest goes through the store's encoding and decodeManifest. */
async function restore(crafted: Manifest): Promise<string> {
  const target = join(directory, `layer-${layers++}`);
  await mkdir(target);
  try {
    await pullWorkspace({
      store: store(),
      manifest: decodeManifest(encodeManifest(crafted), 'crafted'),
      targetDirectory: target,
      cacheDirectory: join(directory, 'cache'),
      idMapping: identityIdMapping,
    });
  } finally {
    assert.equal(existsSync(`${target}.packs`), false, 'the unpacked packs were left behind');
  }
  return target;
}

const refused = (code: string) => (error: unknown) =>
  error instanceof MagsError && error.code === code;

const owned = { uid: 0, gid: 0, mtimeMs: 0 };
const hello = Buffer.from('hello');

test('a crafted manifest cannot write through a symlink it restored (a -> outside, then a/x)', async () => {
  const cases: unknown[][] = [
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
    await assert.rejects(restore(manifest(entries)), refused('manifest_corrupted'));
    assert.equal(existsSync(join(outside, 'x')), false, `case ${index} wrote outside the layer`);
  }
});

test('nor through a symlink listed after the path (whiteout, packed file, hard link)', async () => {
  const pack = await storePack([hello]);
  const symlink = { path: 'a', type: 'symlink', target: outside, ...owned };
  const cases: Manifest[] = [
    manifest([{ path: 'a/x', type: 'whiteout' }, symlink]),
    manifest(
      [
        {
          path: 'a/x',
          type: 'file',
          mode: 0o644,
          size: 5,
          chunks: [sha256(hello)],
          pack: 0,
          offset: 0,
          ...owned,
        },
        symlink,
      ],
      [pack],
    ),
    manifest([
      { path: '0', type: 'file', mode: 0o644, size: 0, chunks: [], linkOf: 'a/x', ...owned },
      symlink,
    ]),
  ];
  for (const [index, crafted] of cases.entries()) {
    await assert.rejects(restore(crafted), refused('manifest_corrupted'), `case ${index}`);
    assert.deepEqual(await readdir(outside), [], `case ${index} wrote outside the layer`);
  }
});

test('mags-layer extract itself follows no symlink on the way, whatever the order of records', async () => {
  const target = join(directory, 'extract-direct');
  const unpacked = `${target}.packs`;
  await mkdir(target);
  await mkdir(unpacked);
  const extractor = new LayerExtractor({
    directory: target,
    unpackedDirectory: unpacked,
    cacheDirectory: directory,
    hostIds: { first: 0, last: 65_535 },
  });
  extractor.symlink(Buffer.from('a'), owned, Buffer.from(outside));
  extractor.whiteout(Buffer.from('a/x'));
  await assert.rejects(extractor.close(), refused('restore_failed'));
  assert.deepEqual(await readdir(outside), []);
});

test('mags-layer extract refuses an owner outside the id range and a source outside its directory', async () => {
  for (const [index, write] of [
    (extractor: LayerExtractor) =>
      extractor.file(Buffer.from('f'), 0o4755, { uid: 4_294_967_295, gid: 0, mtimeMs: 0 }, hello),
    (extractor: LayerExtractor) =>
      extractor.file(Buffer.from('f'), 0o644, { uid: 99, gid: 0, mtimeMs: 0 }, hello),
    (extractor: LayerExtractor) =>
      extractor.slice(Buffer.from('f'), 0o644, owned, 1, '../../etc/passwd', 0),
    (extractor: LayerExtractor) =>
      extractor.pieces(Buffer.from('f'), 0o644, owned, 1, [{ offset: 0, source: '/etc/passwd' }]),
    (extractor: LayerExtractor) => extractor.whiteout(Buffer.from('/etc/x')),
  ].entries()) {
    const target = join(directory, `extract-owner-${index}`);
    await mkdir(target);
    await mkdir(`${target}.packs`);
    const extractor = new LayerExtractor({
      directory: target,
      unpackedDirectory: `${target}.packs`,
      cacheDirectory: directory,
      hostIds: { first: 100, last: 200 },
    });
    write(extractor);
    await assert.rejects(extractor.close(), refused('restore_failed'), `case ${index}`);
    assert.equal(existsSync(join(target, 'f')), false, `case ${index} made the file`);
  }
});

test('a manifest with a field of the wrong kind or out of range is refused before anything is written', async () => {
  const file = { path: 'f', type: 'file', mode: 0o644, size: 0, chunks: [], ...owned };
  const hash = sha256(hello);
  const cases: Manifest[] = [
    manifest([{ path: 'l', type: 'symlink', target: 'x\0/etc', ...owned }]),
    manifest([{ path: 'l', type: 'symlink', target: '', ...owned }]),
    manifest([{ ...file, mode: '420\0/etc/cron.d/x' }]),
    manifest([{ ...file, size: -1 }]),
    manifest([{ ...file, mtimeMs: 1.5 }]),
    manifest([{ ...file, uid: 70_000 }]),
    manifest([{ ...file, gid: -100_000 }]),
    manifest([{ ...file, path: 'a\0b' }]),
    manifest([{ ...file, size: 5, chunks: ['not a hash'] }]),
    manifest([{ ...file, size: 5, chunks: [hash, hash] }]),
    manifest(
      [{ ...file, size: 5, chunks: [hash], pack: 0, offset: 0 }],
      [{ hash, bytes: 2 ** 30 }],
    ),
    manifest(
      [{ ...file, size: 9 * 1024 * 1024, chunks: [hash, hash], pack: 0, offset: 0 }],
      [{ hash, bytes: 5 }],
    ),
    manifest([file, file]),
  ];
  for (const [index, crafted] of cases.entries()) {
    await assert.rejects(restore(crafted), refused('manifest_corrupted'), `case ${index}`);
  }
});

test('a pack that does not hold what the manifest says is refused, nothing left behind', async () => {
  const pack = await storePack([hello, Buffer.from('world')]);
  const entry = (offset: number, size: number, content: Buffer) => ({
    path: 'f',
    type: 'file',
    mode: 0o644,
    size,
    chunks: [sha256(content)],
    pack: 0,
    offset,
    ...owned,
  });
  await assert.rejects(
    restore(manifest([entry(8, 5, hello)], [pack])),
    refused('manifest_corrupted'),
    'a slice past the end of the pack',
  );
  await assert.rejects(
    restore(manifest([entry(5, 5, hello)], [pack])),
    (error: unknown) =>
      error instanceof MagsError &&
      error.code === 'pack_corrupted' &&
      /holds other bytes than "f"/.test(error.message),
  );
});

test('an unknown manifest format is reported as unsupported, not corrupted', () => {
  const crafted = { ...manifest([]), format: 'mags-workspace-manifest-v9' };
  assert.throws(
    () => decodeManifest(zstdCompressSync(Buffer.from(JSON.stringify(crafted))), 'k'),
    refused('manifest_unsupported'),
  );
});
