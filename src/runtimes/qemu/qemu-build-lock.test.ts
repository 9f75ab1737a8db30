/** One guest-kernel build at a time: a second caller waits for the first; a dead owner's lock is taken over. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { acquireBuildLock } from './qemu-build-lock.ts';

const root = await mkdtemp(join(tmpdir(), 'mags-test-lock-'));
after(() => rm(root, { recursive: true, force: true }));

test('a second caller waits until the first releases, then gets the lock', async () => {
  const path = join(root, 'build.lock');
  const events: string[] = [];
  const releaseFirst = await acquireBuildLock(path, () => events.push('first waited'));
  const second = acquireBuildLock(path, () => events.push('second waits'), { pollMs: 20 }).then(
    (release) => {
      events.push('second holds');
      return release;
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(events, ['second waits']);
  events.push('first releases');
  await releaseFirst();
  await (await second)();
  assert.deepEqual(events, ['second waits', 'first releases', 'second holds']);
});

test("a dead process's lock is taken over at once", async () => {
  const path = join(root, 'stale.lock');
  // Above the kernel's pid_max (at most 2^22): never a live process.
  await writeFile(path, String(2 ** 22 + 1));
  let waited = false;
  const release = await acquireBuildLock(path, () => {
    waited = true;
  });
  assert.equal(waited, false);
  await release();
});

test("two waiters on a dead owner's lock: one takes it over, the other waits for its release", async () => {
  // Repeated: the waiters' reads, renames and creates interleave differently from round to round.
  for (let round = 0; round < 20; round += 1) {
    const directory = join(root, `race-${round}`);
    await mkdir(directory);
    const path = join(directory, 'build.lock');
    await writeFile(path, String(2 ** 22 + 1));
    let holders = 0;
    let mostHolders = 0;
    const build = async () => {
      const release = await acquireBuildLock(path, () => {}, { pollMs: 5 });
      holders += 1;
      mostHolders = Math.max(mostHolders, holders);
      await new Promise((resolve) => setTimeout(resolve, 20));
      holders -= 1;
      await release();
    };
    await Promise.all([build(), build()]);
    assert.equal(mostHolders, 1, `round ${round}: both waiters held the lock at once`);
    // Nothing is left behind: neither the lock nor a taken-over copy of it.
    assert.deepEqual(await readdir(directory), []);
  }
});
