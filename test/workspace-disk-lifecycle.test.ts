/**
 * The lifecycle of a workspace's disk on the store itself (no sandbox needed, but root for loop
 * mounts): listing never mounts (it would race a disk being grown) and survives a broken entry,
 * growing accepts a filesystem e2fsck repaired and refuses an image a loop device still holds.
 * Disks are 64 MiB, sparse; nothing large is written.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ConflictError } from '../src/errors/mags-error.ts';
import { createShiftedIdMapping } from '../src/runtimes/namespace/id-mapping.ts';
import { missingDiskTools } from '../src/workspaces/workspace-disk.ts';
import { WorkspaceStore } from '../src/workspaces/workspace-store.ts';
import { createTestHome, type TestHome } from './helpers/test-home.ts';

const execFileAsync = promisify(execFile);
const mebibyte = 1024 * 1024;

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'workspace disks need root (loop mounts)';
  const missing = missingDiskTools();
  return missing.length > 0 ? `missing ${missing.join(', ')}` : undefined;
}
const skip = skipReason();
if (skip) process.stdout.write(`# skipping workspace disk lifecycle tests: ${skip}\n`);

describe('workspace disk lifecycle', { skip }, () => {
  let testHome: TestHome;
  let store: WorkspaceStore;
  const directory = (name: string) => join(testHome.home, 'workspaces', name);
  const image = (name: string) => join(directory(name), 'disk.ext4');
  const unmount = (name: string) => execFileAsync('umount', [join(directory(name), 'layer')]);
  const mounted = (name: string) =>
    execFileAsync('mountpoint', ['-q', join(directory(name), 'layer')]).then(
      () => true,
      () => false,
    );

  before(async () => {
    testHome = await createTestHome();
    store = new WorkspaceStore({
      home: testHome.home,
      idMapping: createShiftedIdMapping({ uidBase: 100000 }),
      defaultDiskMiB: 64,
    });
  });
  after(() => testHome.cleanup());

  test('listing reads use without mounting a disk that is not mounted', async () => {
    await store.ensure('quiet', 'default');
    await store.ensure('busy', 'default');
    await unmount('quiet');
    const listed = await store.list();
    assert.equal(await mounted('quiet'), false, 'the listing mounted the disk');
    const quiet = listed.find((entry) => entry.name === 'quiet');
    const busy = listed.find((entry) => entry.name === 'busy');
    assert.equal(quiet?.diskBytes, 64 * mebibyte);
    // Unmounted: the blocks the sparse image holds (a new ext4 has a few MiB of metadata).
    assert.ok((quiet?.sizeBytes ?? 0) > 0 && (quiet?.sizeBytes ?? 0) < 64 * mebibyte);
    // Mounted: what the filesystem says, as df.
    const stats = await statfs(join(directory('busy'), 'layer'));
    assert.equal(busy?.sizeBytes, (stats.blocks - stats.bfree) * stats.bsize);
  });

  test('one unreadable workspace does not fail the listing, and a filter narrows it', async () => {
    await store.ensure('alice.one', 'default');
    await store.ensure('broken', 'default');
    await unmount('broken');
    await rm(image('broken'));
    const listed = await store.list();
    assert.equal(listed.find((entry) => entry.name === 'broken')?.sizeBytes, null);
    assert.ok(listed.some((entry) => entry.name === 'quiet'));
    const alices = await store.list((name) => name.startsWith('alice.'));
    assert.deepEqual(
      alices.map((entry) => entry.name),
      ['alice.one'],
    );
    await store.delete('broken');
  });

  test('growing accepts a filesystem e2fsck repaired (exit 1)', async () => {
    await store.ensure('repaired', 'default');
    await unmount('repaired');
    // A wrong free-block count in a group descriptor: e2fsck -p fixes it and exits with 1.
    await execFileAsync('debugfs', ['-w', '-R', 'set_bg 0 free_blocks_count 1', image('repaired')]);
    const paths = await store.ensure('repaired', 'default', 96);
    const stats = await statfs(paths.layerDirectory);
    assert.ok(stats.blocks * stats.bsize > 64 * mebibyte, 'the filesystem did not grow');
    assert.equal((await store.get('repaired'))?.diskMiB, 96);
  });

  test('growing refuses an image a loop device still holds', async () => {
    await store.ensure('held', 'default');
    await unmount('held');
    const { stdout } = await execFileAsync('losetup', ['--find', '--show', image('held')]);
    const device = stdout.trim();
    try {
      await assert.rejects(store.ensure('held', 'default', 96), (error: unknown) => {
        assert.ok(error instanceof ConflictError, String(error));
        assert.equal(error.workspace, 'held');
        return true;
      });
      assert.equal((await store.get('held'))?.diskMiB, 64);
    } finally {
      await execFileAsync('losetup', ['--detach', device]);
    }
  });
});
