/**
 * Fork chains on real disks, read through the kernel's overlayfs (issue 11 review, 2.1 and 1.7):
 * forking one source 30 times with a change between each keeps every chain short (its own layers
 * merged by hard links: no data copied) and every fork seeing exactly the source as it was; a
 * chain of forks of forks 24 deep is mounted by a real sandbox, and one deeper is refused with
 * the way to flatten. Changes are made through a host overlay mount with `userxattr`, as a
 * sandbox's overlay makes them (whiteouts, opaque directories), and views are read through a
 * read-only one over the same layers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createMagsContext, type MagsContext } from '../src/context/mags-context.ts';
import { ForkChainTooLongError } from '../src/workspaces/workspace-fork-errors.ts';
import { maxChainLength, maxOwnLayers } from '../src/workspaces/workspace-layers.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const execFileAsync = promisify(execFile);
const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping workspace fork chain tests: ${skip}\n`);

describe('workspace fork chains (real disks, overlayfs)', { skip }, () => {
  let testHome: TestHome;
  let context: MagsContext;
  let scratch: string;
  before(async () => {
    testHome = await createTestHome();
    context = createMagsContext({ ...process.env, MAGS_HOME: testHome.home, MAGS_DISK: '64M' });
    scratch = await mkdtemp(join(testHome.home, 'overlays-'));
    await mkdir(join(scratch, 'empty'));
  });
  after(async () => {
    await testHome.cleanup();
  });

  let mounts = 0;
  /** Mounts the workspace's layers on the host (writable: its upper too), runs `script` there. */
  const inOverlay = async (name: string, script: string, writable: boolean) => {
    const paths = await context.workspaces.open(name);
    const target = join(scratch, `mount-${mounts++}`);
    await mkdir(target);
    const lowers = [...paths.lowerDirs, join(scratch, 'empty')];
    const options = writable
      ? `lowerdir=${lowers.join(':')},upperdir=${paths.upperDir},workdir=${paths.workDir},userxattr`
      : `lowerdir=${[paths.upperDir, ...lowers].join(':')},userxattr`;
    await execFileAsync('mount', ['-t', 'overlay', 'overlay', '-o', options, target]);
    try {
      return (await execFileAsync('sh', ['-c', script], { cwd: target })).stdout;
    } finally {
      await execFileAsync('umount', [target]);
      await rm(target, { recursive: true });
    }
  };
  const change = (name: string, script: string) => inOverlay(name, script, true);
  /** Every entry a sandbox of the workspace sees: directories, and files with their content. */
  const view = (name: string) =>
    inOverlay(
      name,
      'find . -mindepth 1 | sort | while read p; do if [ ! -f "$p" ]; then echo "$p/"; ' +
        'elif [ $(stat -c %s "$p") -lt 100 ]; then echo "$p=$(cat "$p")"; ' +
        'else echo "$p=$(cksum < "$p")"; fi; done',
      false,
    );
  const chainLength = async (name: string) =>
    (await context.workspaces.open(name)).lowerDirs.length;
  const usedBytes = async (name: string) =>
    (await context.workspaces.diskUsage(name))?.usedBytes ?? 0;

  test('one source forked 30 times, changed between each: short chains, exact views, no data copied', async () => {
    await context.workspaces.ensure('app', 'default');
    await change(
      'app',
      'mkdir -p d/e && echo 0 > counter && echo x > d/e/x && echo f > f && head -c 16000000 /dev/urandom > big',
    );
    const usedAtStart = await usedBytes('app');
    const expected = new Map<string, string>();
    const changes = [
      'rm f', // a whiteout over a file of an earlier layer
      'rm -r d && echo now-a-file > d', // a file over a directory
      'rm d && mkdir d && echo inside > d/i', // a directory over a file: opaque
      'rm -rf d && mkdir d && echo fresh > d/j', // an opaque directory over a directory
      'echo back > f', // a file over a whiteout
    ];
    for (let fork = 1; fork <= 30; fork++) {
      const extra = changes[(fork - 1) % changes.length];
      await change('app', `echo ${fork} > counter && echo ${fork} > file-${fork} && (${extra})`);
      await context.workspaceManager.fork('local', 'app', `app-${fork}`);
      expected.set(`app-${fork}`, await view('app'));
      assert.ok((await chainLength('app')) <= maxOwnLayers, `app after fork ${fork}`);
      assert.ok((await chainLength(`app-${fork}`)) <= maxOwnLayers, `fork ${fork}`);
    }
    await change('app', 'echo last > counter && rm file-1');
    const last = await view('app');
    assert.match(last, /^\.\/counter=last$/m);
    assert.doesNotMatch(last, /file-1=/);
    assert.match(last, /^\.\/file-30=30$/m);
    for (const [name, seen] of expected) {
      // Each fork sees the source as it was when it was made: never a later change.
      assert.equal(await view(name), seen, name);
      assert.match(seen, new RegExp(`^\\./counter=${name.slice(4)}$`, 'm'));
    }
    // The merges linked the 16 MB file, never copied it (each layer of its own would hold it too).
    const grownBytes = (await usedBytes('app')) - usedAtStart;
    assert.ok(grownBytes < 8_000_000, `the source's disk grew by ${grownBytes} bytes`);
  });

  test('a chain of forks of forks 24 deep mounts in a sandbox; one deeper is refused', async () => {
    await context.workspaces.ensure('g0', 'default');
    await change('g0', 'echo 0 > level && echo 0 > at-0');
    for (let level = 1; level <= maxChainLength; level++) {
      await context.workspaceManager.fork('local', `g${level - 1}`, `g${level}`);
      await change(
        `g${level}`,
        `echo ${level} > level && echo ${level} > at-${level} && rm at-${level - 1}`,
      );
    }
    const top = `g${maxChainLength}`;
    assert.equal(await chainLength(top), maxChainLength);
    const run = await runCli(testHome.home, [
      'run',
      '-w',
      top,
      "cat /level; ls / | grep -c '^at-'; cat /at-24",
    ]);
    // A real sandbox mounts the 24 layers (and the image) below its upper.
    assert.equal(run.code, 0, run.stderr.toString());
    assert.equal(run.stdout.toString(), '24\n1\n24\n');

    await assert.rejects(
      context.workspaceManager.fork('local', top, 'too-deep'),
      (error: unknown) => {
        assert.ok(error instanceof ForkChainTooLongError, String(error));
        assert.equal(error.code, 'fork_chain_too_long');
        assert.match(
          error.hint ?? '',
          /mags sync g24\), delete its local copy \(mags workspace delete g24 --local-only\) and pull it back as one layer \(mags workspace pull g24\)/,
        );
        return true;
      },
    );
    assert.equal(await context.workspaces.get('too-deep'), undefined);
    assert.equal(await chainLength(top), maxChainLength);
  });
});
