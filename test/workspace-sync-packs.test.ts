/**
 * Small files synced in packs (issue 16, item 4), through WorkspaceSync on real workspace disks,
 * two MAGS_HOMEs playing two hosts that share one store (the filesystem store, and Ceph RGW when
 * it runs): round trips, dedupe across versions and forks, a damaged pack, repacking, versions
 * written before packs (a stored fixture written by the code before this change), and GC.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { nativeBinaryPath } from '../src/config/package-paths.ts';
import { createMagsContext, type MagsContext } from '../src/context/mags-context.ts';
import { MagsError } from '../src/errors/mags-error.ts';
import { scanLayer } from '../src/workspaces/sync/layer-scan.ts';
import { chunkKey, packKey } from '../src/workspaces/sync/manifest.ts';
import { loadManifest } from '../src/workspaces/sync/versions.ts';
import { s3StoreEnvironment } from './helpers/s3-store-environment.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping packed sync tests: ${skip}\n`);

const fixture = join(import.meta.dirname, 'fixtures', 'workspace-sync-before-packs');

/** Everything about a layer a restore must reproduce: entries (no inode numbers) and contents. */
async function describeLayer(directory: string): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await scanLayer(directory)) {
    const content =
      entry.type === 'f'
        ? createHash('sha256')
            .update(await readFile(Buffer.concat([Buffer.from(`${directory}/`), entry.path])))
            .digest('hex')
            .slice(0, 16)
        : '';
    // A whiteout is only a name: the manifest keeps nothing else of it (as before packs).
    if (entry.type === 'w') {
      lines.push(`${entry.path.toString('latin1')} w`);
      continue;
    }
    const mtimeMs = Math.round(Number(entry.mtimeNs) / 1e6);
    // A directory's size is the filesystem's business, not the tree's.
    const size = entry.type === 'd' ? '' : entry.size;
    lines.push(
      [entry.path.toString('latin1'), entry.type, entry.mode.toString(8), entry.uid, entry.gid]
        .concat([
          size,
          mtimeMs,
          entry.links,
          String(entry.opaque),
          entry.target.toString('latin1'),
          content,
        ])
        .join(' '),
    );
  }
  return lines.sort();
}

/** 1,500 small files in nested directories, with every kind of entry a layer holds. */
async function writeManySmallFiles(upper: string, owner: number): Promise<void> {
  for (let index = 0; index < 1500; index++) {
    const directory = join(upper, 'workspace', 'node_modules', `pkg-${index % 50}`, 'lib');
    await mkdir(directory, { recursive: true });
    await writeFile(join(directory, `file-${index}.js`), `module.exports = ${index};\n`.repeat(20));
  }
  const workspace = join(upper, 'workspace');
  await writeFile(join(workspace, 'empty'), '');
  await writeFile(join(workspace, 'private'), 'secret\n', { mode: 0o600 });
  await writeFile(join(workspace, 'tool'), '#!/bin/sh\n', { mode: 0o4755 });
  await writeFile(join(workspace, 'big.bin'), Buffer.alloc(600_000, 'big'));
  await symlink('node_modules/pkg-1/lib/file-1.js', join(workspace, 'link'));
  await symlink('/nowhere', join(workspace, 'dangling'));
  execFileSync('ln', [join(workspace, 'private'), join(workspace, 'private-hard')]);
  await mkdir(join(upper, 'etc', 'apt'), { recursive: true });
  await writeFile(join(upper, 'etc', 'apt', 'only'), 'mine\n');
  execFileSync('mknod', [join(upper, 'etc', 'hostname'), 'c', '0', '0']);
  execFileSync(nativeBinaryPath('mags-layer'), ['apply'], {
    input: Buffer.from(`o\0${join(upper, 'etc', 'apt')}\0`),
  });
  execFileSync('chmod', ['711', join(workspace, 'node_modules')]);
  execFileSync('chown', ['-R', '-h', `${owner}:${owner}`, upper]);
  // chown clears set-id bits; put it back, as the sandbox's root would have.
  execFileSync('chmod', ['4755', join(workspace, 'tool')]);
}

async function rewrite(path: string, text: string, owner: number): Promise<void> {
  await writeFile(path, text);
  await chown(path, owner, owner);
}

function describeStore(
  label: string,
  storeEnvironment: () => Promise<Record<string, string> | { skip: string }>,
) {
  describe(`packed sync on ${label}`, { skip }, () => {
    let environment: Record<string, string> = {};
    let skipReason: string | undefined;
    const homes: TestHome[] = [];
    const host = async (): Promise<MagsContext> => {
      const home = await createTestHome();
      homes.push(home);
      return createMagsContext({ ...process.env, ...environment, MAGS_HOME: home.home });
    };
    let a: MagsContext;
    let owner = 0;
    before(async () => {
      const resolved = await storeEnvironment();
      if ('skip' in resolved) skipReason = resolved.skip;
      else environment = resolved;
      a = await host();
      owner = a.workspaces.idMapping.toHost(0);
    });
    after(async () => {
      for (const home of homes) await home.cleanup();
      if (environment.MAGS_STORE_DIR)
        await rm(environment.MAGS_STORE_DIR, { recursive: true, force: true });
    });
    const it = (title: string, body: () => Promise<void>) =>
      test(title, async (t) => {
        if (skipReason) return t.skip(skipReason);
        await body();
      });

    it('a tree of many small files round-trips through a few packs, every kind of entry kept', async () => {
      const paths = await a.workspaces.ensure('many', 'default');
      await writeManySmallFiles(paths.upperDir, owner);
      const pushed = await a.sync.push('many');
      assert.equal(pushed.version, 1);
      assert.equal(pushed.uploadedPacks, 1, 'about 0.7 MB of small files: one pack');
      assert.equal(pushed.uploadedChunks, 1, 'the one large file is chunked, as before');
      const manifest = await loadManifest(a.sync.store, 'many', 1);
      assert.equal(manifest.format, 'mags-workspace-manifest-v2');
      const b = await host();
      await b.sync.pull('many', { image: 'default' });
      const restored = await b.workspaces.open('many');
      assert.deepEqual(await describeLayer(restored.upperDir), await describeLayer(paths.upperDir));
      const again = await b.sync.push('many');
      assert.equal(again.committed, false, 'a restored tree is the same version');
    });

    it('dedupe: an unchanged tree uploads nothing, a change only its files, a fork reuses its source', async () => {
      const paths = await a.workspaces.open('many');
      const unchanged = await a.sync.push('many');
      assert.equal(unchanged.committed, false);
      assert.equal(unchanged.uploadedPacks + unchanged.uploadedChunks, 0);
      const changed = ['pkg-3/lib/file-3.js', 'pkg-4/lib/file-4.js', 'pkg-5/lib/file-5.js'];
      for (const path of changed)
        await rewrite(
          join(paths.upperDir, 'workspace', 'node_modules', path),
          `// ${path}\n`,
          owner,
        );
      const second = await a.sync.push('many');
      assert.equal(second.version, 2);
      assert.equal(second.uploadedPacks, 1);
      assert.equal(second.uploadedChunks, 0, 'the large file is not sent again');
      const v2 = await loadManifest(a.sync.store, 'many', 2);
      const v1 = await loadManifest(a.sync.store, 'many', 1);
      const newPack = v2.packs?.find((pack) => !v1.packs?.some((old) => old.hash === pack.hash));
      assert.equal(
        newPack?.bytes,
        changed.reduce((sum, path) => sum + `// ${path}\n`.length, 0),
      );

      await a.workspaces.fork('many', 'many-fork');
      const fork = await a.workspaces.open('many-fork');
      await writeFile(join(fork.upperDir, 'only-in-fork'), 'fork\n');
      await chown(join(fork.upperDir, 'only-in-fork'), owner, owner);
      const forked = await a.sync.push('many-fork');
      assert.equal(forked.uploadedPacks, 1, "only the fork's own file is packed");
      assert.equal(forked.uploadedChunks, 0);
      const forkManifest = await loadManifest(a.sync.store, 'many-fork', 1);
      assert.ok(
        v2.packs?.every((pack) => forkManifest.packs?.some((used) => used.hash === pack.hash)),
        "the fork's version reads its source's packs",
      );
      const b = await host();
      await b.sync.pull('many-fork', { image: 'default' });
      const restored = await b.workspaces.open('many-fork');
      assert.equal(await readFile(join(restored.upperDir, 'only-in-fork'), 'utf8'), 'fork\n');
      assert.equal(
        await readFile(
          join(restored.upperDir, 'workspace/node_modules', changed[0] as string),
          'utf8',
        ),
        `// ${changed[0]}\n`,
      );
    });

    it('a damaged pack fails the restore with a clear error and leaves the local tree as it was', async () => {
      const b = await host();
      await b.sync.pull('many', { image: 'default', version: 1 });
      const local = await b.workspaces.open('many');
      const before = await describeLayer(local.upperDir);
      const v2 = await loadManifest(a.sync.store, 'many', 2);
      const v1 = await loadManifest(a.sync.store, 'many', 1);
      const pack = v2.packs?.find((used) => !v1.packs?.some((old) => old.hash === used.hash));
      assert.ok(pack);
      const original = await a.sync.store.get(packKey(pack.hash));
      try {
        for (const [damage, message] of [
          [original.subarray(0, original.length >> 1), /does not match its hash/],
          [undefined, /is missing from the store/],
        ] as const) {
          if (damage) await a.sync.store.put(packKey(pack.hash), damage);
          else await a.sync.store.delete([packKey(pack.hash)]);
          await assert.rejects(b.sync.pull('many', { image: 'default' }), (error: unknown) => {
            assert.ok(error instanceof MagsError, String(error));
            assert.equal(error.code, 'pack_corrupted');
            assert.match(error.message, /^Cannot restore many@2: its pack [0-9a-f]{16}… /);
            assert.match(error.message, message);
            assert.match(error.message, /workspace\/node_modules\/pkg-/);
            assert.match(error.hint ?? '', /Nothing local was changed/);
            return true;
          });
          assert.deepEqual(await describeLayer(local.upperDir), before);
          assert.equal((await b.workspaces.get('many'))?.remoteVersion, 1);
        }
      } finally {
        await a.sync.store.put(packKey(pack.hash), original);
      }
      await b.sync.pull('many', { image: 'default' });
      assert.equal((await b.workspaces.get('many'))?.remoteVersion, 2);
    });

    it('files in a pack a new version would read less than half of are packed again', async () => {
      const paths = await a.workspaces.ensure('sparse', 'default');
      const directory = join(paths.upperDir, 'files');
      await mkdir(directory);
      for (let index = 0; index < 100; index++)
        await writeFile(join(directory, `f${index}`), `first ${index}\n`.repeat(50));
      execFileSync('chown', ['-R', `${owner}:${owner}`, paths.upperDir]);
      await a.sync.push('sparse');
      const first = await loadManifest(a.sync.store, 'sparse', 1);
      for (let index = 0; index < 60; index++)
        await rewrite(join(directory, `f${index}`), `second ${index}\n`, owner);
      const second = await a.sync.push('sparse');
      const v2 = await loadManifest(a.sync.store, 'sparse', 2);
      assert.equal(first.packs?.length, 1);
      assert.ok(
        !v2.packs?.some((pack) => pack.hash === first.packs?.[0]?.hash),
        'version 2 no longer reads the mostly dead pack',
      );
      assert.equal(second.uploadedPacks, 1, 'the 40 unchanged files went into the new pack');
      const b = await host();
      await b.sync.pull('sparse', { image: 'default' });
      const restored = await b.workspaces.open('sparse');
      assert.deepEqual(await describeLayer(restored.upperDir), await describeLayer(paths.upperDir));
    });

    it('a version written before packs restores, and the next sync reuses its objects', async () => {
      // The fixture: version 1 of "before-packs", written by the sync code of main 34bc3a4 (one
      // chunk object per file, manifest v1), from a tree with every kind of entry.
      for (const key of await listFiles(fixture))
        await a.sync.store.put(key, await readFile(join(fixture, key)));
      const b = await host();
      await b.sync.pull('before-packs', { image: 'default' });
      const restored = await b.workspaces.open('before-packs');
      const tree = await describeLayer(restored.upperDir);
      const line = (path: string) => tree.find((entry) => entry.startsWith(`${path} `)) ?? '';
      assert.equal(tree.length, 15);
      assert.match(line('workspace/index.js'), / f 644 .* 18 1767323045000 2 /);
      assert.match(line('workspace/lib'), / d 751 /);
      assert.match(line('workspace/private'), / f 600 /);
      assert.match(line('workspace/link'), / l .* lib\/answer\.js $/);
      assert.match(line('etc/apt'), / d 755 .* true /);
      assert.equal(line('etc/hostname'), 'etc/hostname w');
      assert.match(line('workspace/big.bin'), / f 644 .* 300000 /);
      assert.equal(
        await readFile(join(restored.upperDir, 'workspace/lib/answer.js'), 'utf8'),
        'module.exports = 42;\n',
      );
      assert.equal(
        (await readFile(join(restored.upperDir, 'workspace/big.bin'), 'utf8')).slice(0, 13),
        'mags-fixture\n',
      );
      await rewrite(join(restored.upperDir, 'workspace/new.js'), 'new\n', owner);
      const next = await b.sync.push('before-packs');
      assert.equal(next.version, 2);
      assert.equal(next.uploadedPacks, 1, 'only the new file');
      assert.equal(next.uploadedChunks, 0, 'the stored chunk objects are referenced, not re-sent');
      const c = await host();
      await c.sync.pull('before-packs', { image: 'default' });
      const again = await c.workspaces.open('before-packs');
      assert.deepEqual(await describeLayer(again.upperDir), await describeLayer(restored.upperDir));
    });

    it('garbage collection keeps every pack a version reads and removes the others', async () => {
      await a.sync.store.put(packKey('e'.repeat(64)), Buffer.from('orphan'));
      const young = await a.sync.garbageCollect({ graceMs: 60_000 });
      assert.equal(young.deletedPacks, 0);
      // Version 1 of "sparse" is the only reader of its first pack.
      const first = (await loadManifest(a.sync.store, 'sparse', 1)).packs?.[0]?.hash as string;
      await a.sync.store.delete(['workspaces/sparse/versions/0000000001.json.zst']);
      const collected = await a.sync.garbageCollect({ graceMs: 0 });
      assert.equal(collected.deletedPacks, 2);
      assert.equal(await a.sync.store.head(packKey('e'.repeat(64))), undefined);
      assert.equal(await a.sync.store.head(packKey(first)), undefined);
      assert.ok(collected.keptPacks >= 4);
      for (const [name, version] of [
        ['many', 1],
        ['many', 2],
        ['many-fork', 1],
        ['sparse', 2],
        ['before-packs', 2],
      ] as const) {
        const manifest = await loadManifest(a.sync.store, name, version);
        for (const pack of manifest.packs ?? [])
          assert.ok(await a.sync.store.head(packKey(pack.hash)), `${name}@${version} lost a pack`);
        for (const entry of manifest.entries)
          if (entry.type === 'file' && entry.pack === undefined)
            for (const hash of entry.chunks)
              assert.ok(await a.sync.store.head(chunkKey(hash)), `${name}@${version} lost a chunk`);
      }
    });

    it('a sync does not reuse a pack collected meanwhile: its files are packed again', async () => {
      const paths = await a.workspaces.ensure('collected', 'default');
      const directory = join(paths.upperDir, 'files');
      await mkdir(directory);
      for (let index = 0; index < 20; index++)
        await writeFile(join(directory, `f${index}`), `kept ${index}\n`.repeat(20));
      execFileSync('chown', ['-R', `${owner}:${owner}`, paths.upperDir]);
      await a.sync.push('collected');
      const first = (await loadManifest(a.sync.store, 'collected', 1)).packs?.[0]?.hash as string;
      // As GC would once version 1 were deleted while the next sync runs.
      await a.sync.store.delete([packKey(first)]);
      await rewrite(join(directory, 'f0'), 'changed\n', owner);
      const second = await a.sync.push('collected');
      assert.equal(second.version, 2);
      const v2 = await loadManifest(a.sync.store, 'collected', 2);
      assert.ok(!v2.packs?.some((pack) => pack.hash === first), 'version 2 reads the lost pack');
      const b = await host();
      await b.sync.pull('collected', { image: 'default' });
      const restored = await b.workspaces.open('collected');
      assert.deepEqual(await describeLayer(restored.upperDir), await describeLayer(paths.upperDir));
    });
  });
}

async function listFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (directory: string) => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files.push(relative(root, path));
    }
  };
  await walk(root);
  return files;
}

describeStore('the filesystem store', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'mags-packs-store-'));
  return { MAGS_STORE_DIR: directory, MAGS_S3_BUCKET: '' };
});

describeStore('S3 (Ceph RGW)', s3StoreEnvironment);
