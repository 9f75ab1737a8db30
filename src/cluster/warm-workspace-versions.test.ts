import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWarmEntry, WarmWorkspaceVersions } from './warm-workspace-versions.ts';

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('a parked workspace is named with its copy version from the beat after it was read', async () => {
  const onDisk = new Map<string, number | undefined>([
    ['alice.w', 3],
    ['alice.fresh', undefined],
  ]);
  let reads = 0;
  const versions = new WarmWorkspaceVersions(async (workspace) => {
    reads++;
    if (workspace === 'alice.broken') throw new Error('unreadable');
    return onDisk.get(workspace);
  });
  // First beat: not read yet, so not named (never named with a version it may not have).
  assert.deepEqual(versions.entries(['alice.w', 'alice.fresh', 'alice.broken']), []);
  await settle();
  assert.deepEqual(versions.entries(['alice.w', 'alice.fresh', 'alice.broken']), [
    'alice.w@3',
    'alice.fresh@0',
  ]);
  assert.equal(reads, 4, 'read once each, the unreadable one again');
  // A run takes W (it leaves the cache), pushes version 4 and parks it again: read again.
  assert.deepEqual(versions.entries(['alice.fresh']), ['alice.fresh@0']);
  onDisk.set('alice.w', 4);
  assert.deepEqual(versions.entries(['alice.fresh', 'alice.w']), ['alice.fresh@0']);
  await settle();
  assert.deepEqual(versions.entries(['alice.fresh', 'alice.w']), ['alice.fresh@0', 'alice.w@4']);
});

test('entries parse back; a name without a version is one', () => {
  assert.deepEqual(parseWarmEntry('alice.w@12'), { workspace: 'alice.w', version: 12 });
  assert.deepEqual(parseWarmEntry('w'), { workspace: 'w', version: undefined });
});
