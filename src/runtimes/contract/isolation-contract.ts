import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { type ContractHarness, collect, shell } from './contract-harness.ts';

/** Free bytes of the filesystem the runtime's state lives on (the host's disk). */
async function hostFreeBytes(): Promise<number> {
  const stats = await statfs(tmpdir());
  return stats.bavail * stats.bsize;
}

/** What a sandbox cannot see or take from the host: ids, files, processes, network, limits. */
export function registerIsolationContract({ it, start }: ContractHarness): void {
  it('runs as root inside, but root is not root outside', async () => {
    const sandbox = await start();
    const result = await collect(sandbox.exec(shell('id -u; cat /proc/self/uid_map')));
    const [uid, map] = result.stdout.toString().split('\n');
    assert.equal(uid, '0');
    const hostUid = Number(map?.trim().split(/\s+/)[1]);
    assert.ok(hostUid > 0, `sandbox root must map to an unprivileged host uid, got ${map}`);
  });

  it('does not see host files or host processes', async () => {
    const sandbox = await start();
    const marker = `/root/.mags-contract-${randomBytes(4).toString('hex')}`;
    await writeFile(marker, 'secret');
    try {
      const result = await collect(
        sandbox.exec(shell(`test -e ${marker} && echo visible; ls /proc | grep -c '^[0-9]'`)),
      );
      assert.doesNotMatch(result.stdout.toString(), /visible/);
      // Only the agent, the shell and ls (and grep): a handful, never the host's hundreds.
      assert.ok(Number(result.stdout.toString().trim()) < 10, result.stdout.toString());
    } finally {
      await rm(marker, { force: true });
    }
  });

  it('has no network but loopback unless asked', async () => {
    const sandbox = await start();
    const result = await collect(
      sandbox.exec(shell('cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "')),
    );
    assert.equal(result.stdout.toString().trim(), 'lo');
  });

  it(
    'stops a fork bomb with the process limit',
    async () => {
      const sandbox = await start({ limits: { memoryMiB: 512, cpus: 1, pidsMax: 64 } });
      // The shell waits and answers with builtins only: once the bomb holds the limit, any fork
      // of its own (a `sleep`) may be refused, and a shell exits on a refused fork.
      const script =
        'bomb() { bomb | bomb & }; bomb; while ((SECONDS < 2)); do :; done; echo survived';
      const result = await collect(
        sandbox.exec(shell('', { argv: ['bash', '-c', script], cwd: '/' })),
      );
      assert.match(result.stdout.toString(), /survived/);
    },
    'resourceLimits',
  );

  it(
    'kills a memory hog at the memory limit and reports it',
    async () => {
      const sandbox = await start({ limits: { memoryMiB: 64, cpus: 1, pidsMax: 64 } });
      const result = await collect(
        sandbox.exec(shell('head -c 400000000 /dev/zero | tail -c 300000000 > /dev/null; echo $?')),
      );
      const usage = await sandbox.usage();
      assert.ok(
        usage.oomKills > 0,
        `expected an OOM kill, got ${JSON.stringify(usage)} / ${result.stdout}`,
      );
    },
    'resourceLimits',
  );

  it(
    'limits the throw-away layer to diskMiB: ENOSPC past it, usable again after deleting',
    async () => {
      const hostFreeBefore = await hostFreeBytes();
      const sandbox = await start({
        limits: { memoryMiB: 512, cpus: 1, pidsMax: 64, diskMiB: 64 },
      });
      const full = await collect(
        sandbox.exec(shell('dd if=/dev/zero of=/big bs=1M count=100 2>&1; echo "exit $?"')),
      );
      assert.match(full.stdout.toString(), /No space left on device/);
      assert.match(full.stdout.toString(), /exit [1-9]/);
      const hostDropBytes = hostFreeBefore - (await hostFreeBytes());
      assert.ok(
        hostDropBytes <= 64 * 1024 * 1024,
        `the host lost ${hostDropBytes} bytes of free disk, more than the 64 MiB limit`,
      );
      const again = await collect(
        sandbox.exec(
          shell('rm /big && dd if=/dev/zero of=/small bs=1M count=8 2>/dev/null && echo ok'),
        ),
      );
      assert.equal(again.stdout.toString(), 'ok\n');
    },
    'resourceLimits',
  );

  it('counts processes left running besides the agent, and reports an ended sandbox', async () => {
    // A runtime that cannot count them lists this test as skipped: callers then never reuse
    // its sandboxes (the parking policy), which this test does not check.
    const sandbox = await start();
    assert.equal(sandbox.isRunning(), true);
    await collect(sandbox.exec(shell('true')));
    assert.equal((await sandbox.usage()).processes, 0);
    await collect(sandbox.exec(shell('sleep 1000 > /dev/null 2>&1 &')));
    assert.equal((await sandbox.usage()).processes, 1);
    await sandbox.stop();
    assert.equal(sandbox.isRunning(), false);
  });
}
