/**
 * Workspace disks end to end (issue 10, finding 4): `--disk` through the real CLI, launcher and
 * agent. A writer past the disk gets ENOSPC, the run says so, the host's disk is unharmed, the
 * workspace is usable again after deleting, disks grow but never shrink, and `workspace list`
 * shows use against the disk. Writes stay modest: a 64 MiB disk, 100 MiB written.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { freeBytes } from './helpers/host-measures.ts';
import { waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';
import { hostPool, startTestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping workspace disk tests: ${skip}\n`);

const mebibyte = 1024 * 1024;

describe('workspace disks (--disk)', { skip }, () => {
  let testHome: TestHome;
  let home: string;
  before(async () => {
    testHome = await createTestHome();
    home = testHome.home;
  });
  after(() => testHome.cleanup());

  test('a writer past --disk gets ENOSPC, the run reports it, the host keeps its disk', async () => {
    const hostFreeBefore = await freeBytes(home);
    const full = await runCli(home, [
      'run',
      '-w',
      'quota',
      '--disk',
      '64m',
      'dd if=/dev/zero of=/workspace/big bs=1M count=100',
    ]);
    assert.notEqual(full.code, 0);
    assert.match(full.stderr, /No space left on device/);
    assert.match(full.stderr, /mags: the workspace's disk is full \(--disk 64M\)/);
    const hostDropBytes = hostFreeBefore - (await freeBytes(home));
    assert.ok(
      hostDropBytes <= 64 * mebibyte,
      `the host lost ${hostDropBytes} bytes of free disk, more than the 64 MiB disk`,
    );

    const listed = await runCli(home, ['workspace', 'list', '--json']);
    const [entry] = JSON.parse(listed.stdout.toString()) as Array<{
      name: string;
      sizeBytes: number;
      diskBytes: number;
    }>;
    assert.equal(entry?.name, 'quota');
    assert.equal(entry?.diskBytes, 64 * mebibyte);
    assert.ok((entry?.sizeBytes ?? 0) > 40 * mebibyte, `used: ${entry?.sizeBytes}`);
    const table = await runCli(home, ['workspace', 'list']);
    assert.match(table.stdout.toString(), /NAME\s+USED\s+DISK/);
    assert.match(table.stdout.toString(), /quota\s+\d+\.\d MiB\s+64\.0 MiB \(\d+ %\)/);

    // Usable again once files are deleted, and what the run wrote before is all there.
    const again = await runCli(home, [
      'run',
      '-w',
      'quota',
      'rm /workspace/big && dd if=/dev/zero of=/workspace/small bs=1M count=8 2>/dev/null && ls /workspace',
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.toString(), 'small\n');
    assert.doesNotMatch(again.stderr, /disk is full/);
  });

  test('a disk grows with a larger --disk and a smaller one is refused', async () => {
    const created = await runCli(home, ['run', '-w', 'grow', '--disk', '64m', 'echo kept > f']);
    assert.equal(created.code, 0, created.stderr);
    const grown = await runCli(home, [
      'run',
      '-w',
      'grow',
      '--disk',
      '128m',
      'cat f && dd if=/dev/zero of=big bs=1M count=100 2>/dev/null && echo wrote',
    ]);
    assert.equal(grown.code, 0, grown.stderr);
    assert.equal(grown.stdout.toString(), 'kept\nwrote\n');
    const shrunk = await runCli(home, ['run', '-w', 'grow', '--disk', '64m', 'true']);
    assert.equal(shrunk.code, 1);
    assert.match(shrunk.stderr, /has a 128M disk; --disk 64M would shrink it/);
    // Without --disk an existing workspace keeps its disk (the default is for new ones).
    const kept = await runCli(home, ['run', '-w', 'grow', 'ls']);
    assert.equal(kept.code, 0, kept.stderr);
  });

  test('a run without a workspace has a --disk limit too', async () => {
    const result = await runCli(home, [
      'run',
      '--disk',
      '64m',
      'dd if=/dev/zero of=/big bs=1M count=100 2>&1; echo "exit $?"',
    ]);
    assert.match(result.stdout.toString(), /No space left on device/);
    assert.match(result.stdout.toString(), /exit 1/);
  });

  test('a throw-away layer larger than the memory fills with ENOSPC, not an OOM kill', async () => {
    // The layer is a tmpfs charged to --memory: it is sized to three quarters of it (96 MiB).
    const result = await runCli(home, [
      'run',
      '--memory',
      '128m',
      '--disk',
      '256m',
      'dd if=/dev/zero of=/big bs=1M count=200 2>&1; echo "exit $?"',
    ]);
    assert.match(result.stdout.toString(), /No space left on device/);
    assert.match(result.stdout.toString(), /exit 1/);
    assert.doesNotMatch(result.stderr, /out of memory/);
  });

  test('restoring a stored version larger than the disk fails clearly and leaves no copy', async () => {
    const stored = await runCli(home, [
      'run',
      '-w',
      'large',
      '-p',
      '--disk',
      '256m',
      'dd if=/dev/zero of=big bs=1M count=100 2>/dev/null',
    ]);
    assert.equal(stored.code, 0, stored.stderr);
    const deleted = await runCli(home, ['workspace', 'delete', 'large', '--local-only']);
    assert.equal(deleted.code, 0, deleted.stderr);
    const pulled = await runCli(home, ['workspace', 'pull', 'large', '--disk', '64m']);
    assert.equal(pulled.code, 1);
    assert.match(
      pulled.stderr,
      /Version 1 of workspace "large" holds 100\.0 MiB, more than its 64M disk/,
    );
    assert.match(pulled.stderr, /mags workspace pull large --disk 125M/);
    const listed = await runCli(home, ['workspace', 'list', '--json']);
    assert.equal(
      (JSON.parse(listed.stdout.toString()) as Array<{ name: string }>).some(
        (entry) => entry.name === 'large',
      ),
      false,
    );
    const restored = await runCli(home, ['workspace', 'pull', 'large', '--disk', '256m']);
    assert.equal(restored.code, 0, restored.stderr);
  });

  test('deleting a workspace unmounts and removes its disk', async () => {
    const created = await runCli(home, ['run', '-w', 'doomed', '--disk', '64m', 'echo x > f']);
    assert.equal(created.code, 0, created.stderr);
    const deleted = await runCli(home, ['workspace', 'delete', 'doomed', '--local-only']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.doesNotMatch(await readFile('/proc/self/mountinfo', 'utf8'), /doomed/);
  });
});

describe('workspace disks through a server and its pool', { skip }, () => {
  test('a pooled sandbox, prepared before the disk was made, runs on it; the job says when it filled', async () => {
    const server = await startTestServer({ scheduling: { poolSize: 1 } });
    try {
      const { mags } = await server.client('alice', { admin: true });
      // The pooled sandbox's namespace exists before the workspace (and its disk) does.
      await waitUntil(async () => (await hostPool(mags)).pool.idle === 1, 30_000);
      const full = await mags.runAndWait(
        'echo kept > f; dd if=/dev/zero of=big bs=1M count=100 2>/dev/null',
        { workspace: 'fresh', limits: { diskMiB: 64 } },
      );
      assert.notEqual(full.exitCode, 0);
      assert.match(full.job.reason ?? '', /the workspace's disk is full \(--disk 64M\)/);
      assert.equal((await hostPool(mags)).counters.poolHits, 1);
      const again = await mags.runAndWait('rm big && cat f', { workspace: 'fresh' });
      assert.equal(again.stdout, 'kept\n', again.stderr);
      const [listed] = (await mags.workspaces.list()).filter((entry) => entry.name === 'fresh');
      assert.equal(listed?.diskBytes, 64 * mebibyte);
    } finally {
      await server.close();
    }
  });
});
