/**
 * End-to-end tests of `mags run` and `mags workspace` through the real CLI, the real launcher and
 * agent, and the real base image. Each test can fail: they check output bytes, exit codes and the
 * files a workspace keeps.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping CLI sandbox tests: ${skip}\n`);

describe('mags run (CLI, namespace runtime)', { skip }, () => {
  let testHome: TestHome;
  let home: string;
  before(async () => {
    testHome = await createTestHome();
    home = testHome.home;
  });
  after(() => testHome.cleanup());

  test('streams output and propagates the exit code', async () => {
    const result = await runCli(home, ['run', 'echo hello; echo oops >&2; exit 3']);
    assert.equal(result.stdout.toString(), 'hello\n');
    assert.match(result.stderr, /oops/);
    assert.equal(result.code, 3);
  });

  test('an exact argv runs without a shell', async () => {
    const result = await runCli(home, ['run', '--', 'printf', '%s|', 'a b', '$HOME']);
    assert.equal(result.stdout.toString(), 'a b|$HOME|');
  });

  test('a program that does not exist is exit 127 with the reason', async () => {
    const result = await runCli(home, ['run', '--', 'no-such-program', 'x']);
    assert.equal(result.code, 127);
    assert.match(
      result.stderr,
      /cannot run no-such-program in \/workspace: No such file or directory/,
    );
  });

  test('the image has a shell, coreutils, git, Node.js and npm, and /workspace is the cwd', async () => {
    const result = await runCli(home, ['run', 'pwd; git --version; node --version; npm --version']);
    assert.equal(result.code, 0, result.stderr);
    const [cwd, git, node, npm] = result.stdout.toString().trim().split('\n');
    assert.equal(cwd, '/workspace');
    assert.match(git ?? '', /^git version /);
    assert.match(node ?? '', /^v2[4-9]\./);
    assert.match(npm ?? '', /^\d+\.\d+\.\d+$/);
  });

  test('a named workspace keeps every write, anywhere in the filesystem', async () => {
    const first = await runCli(home, [
      'run',
      '-w',
      'keep',
      [
        'echo data > /workspace/a.txt && mkdir -p /opt/tool && echo t > /opt/tool/t',
        'echo x >> /etc/hosts && rm /etc/hostname',
        // A global npm install from a local tarball: no network needed, lands in /usr/local.
        `mkdir -p /tmp/pkg && cd /tmp/pkg && echo '{"name":"hello-mags","version":"1.0.0","bin":{"hello-mags":"cli.js"}}' > package.json`,
        `printf '#!/usr/bin/env node\\nconsole.log("hi from global")\\n' > cli.js && npm pack --silent >/dev/null`,
        'npm install -g --offline --no-audit --no-fund ./hello-mags-1.0.0.tgz >/dev/null && rm -rf /tmp/pkg',
      ].join(' && '),
    ]);
    assert.equal(first.code, 0, first.stderr);
    const second = await runCli(home, [
      'run',
      '-w',
      'keep',
      'cat a.txt /opt/tool/t; tail -1 /etc/hosts; test -e /etc/hostname || echo deleted; hello-mags',
    ]);
    assert.equal(second.stdout.toString(), 'data\nt\nx\ndeleted\nhi from global\n', second.stderr);
    // A run without the workspace sees none of it.
    const fresh = await runCli(home, [
      'run',
      'test -e /workspace/a.txt || echo clean; test -e /etc/hostname && echo image-intact',
    ]);
    assert.equal(fresh.stdout.toString(), 'clean\nimage-intact\n');
  });

  test('--base uses a workspace read-only and -e discards writes', async () => {
    await runCli(home, ['run', '-w', 'basews', 'echo base > b.txt']);
    const onBase = await runCli(home, [
      'run',
      '--base',
      'basews',
      'cat b.txt; echo changed > b.txt; echo new > n.txt; cat b.txt',
    ]);
    assert.equal(onBase.stdout.toString(), 'base\nchanged\n');
    const ephemeral = await runCli(home, [
      'run',
      '-w',
      'basews',
      '-e',
      'echo gone > g.txt; cat b.txt',
    ]);
    assert.equal(ephemeral.stdout.toString(), 'base\n');
    const after = await runCli(home, ['run', '-w', 'basews', 'cat b.txt; ls']);
    assert.equal(after.stdout.toString(), 'base\nb.txt\n');
    const missing = await runCli(home, ['run', '--base', 'nope', 'true']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Workspace "nope" does not exist/);
  });

  test('-f uploads files and --env sets variables', async () => {
    const file = join(home, 'upload me.txt');
    await writeFile(file, 'payload\n', { mode: 0o750 });
    const result = await runCli(home, [
      'run',
      '-f',
      file,
      '--env',
      'GREETING=hi there',
      'cat "upload me.txt"; stat -c %a "upload me.txt"; echo "$GREETING"',
    ]);
    assert.equal(result.stdout.toString(), 'payload\n750\nhi there\n');
    const missing = await runCli(home, ['run', '-f', join(home, 'absent'), 'true']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Cannot upload .*absent/);
    const badEnv = await runCli(home, ['run', '--env', 'A-B=1', 'true']);
    assert.equal(badEnv.code, 2);
    assert.match(badEnv.stderr, /Invalid environment variable name/);
  });

  test('invalid workspace names are refused and nothing is created', async () => {
    for (const name of ['../x', 'a/b', '', 'x'.repeat(101), '.hidden', 'a@x', 'a\nb']) {
      const result = await runCli(home, ['run', '-w', name, 'true']);
      assert.equal(result.code, 2, `name ${JSON.stringify(name)}: ${result.stderr}`);
      assert.match(result.stderr, /[Ww]orkspace name/);
    }
    const noVersion = await runCli(home, ['run', '-w', 'never-synced@1', 'true']);
    assert.equal(noVersion.code, 1);
    assert.match(noVersion.stderr, /has no version 1/);
    const names = await readdir(join(home, 'workspaces')).catch(() => [] as string[]);
    assert.ok(!names.some((name) => name.includes('x') && name !== 'keep'), names.join(','));
    assert.ok(!existsSync(join(home, 'x')));
  });

  test('a second run on a busy workspace is refused and the layer is intact', async () => {
    const first = runCli(home, ['run', '-w', 'busy', 'echo 1 > f; sleep 2; echo 2 >> f']);
    // Wait until the first run holds the workspace.
    for (
      let attempt = 0;
      attempt < 100 &&
      !existsSync(join(home, 'workspaces', 'busy', 'layer', 'upper', 'workspace', 'f'));
      attempt++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const second = await runCli(home, ['run', '-w', 'busy', 'echo 3 >> f']);
    assert.equal(second.code, 1);
    // The state knows the writer (one writer per workspace, checked as the run is recorded).
    assert.match(second.stderr, /Workspace "busy" is in use by job job_\S+\./);
    assert.equal((await first).code, 0);
    const check = await runCli(home, ['run', '-w', 'busy', 'cat f']);
    assert.equal(check.stdout.toString(), '1\n2\n');
    const deleting = runCli(home, ['run', '-w', 'busy', 'sleep 2']);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const refused = await runCli(home, ['workspace', 'delete', 'busy']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /in use/);
    await deleting;
  });

  test('a command that ignores SIGTERM is killed at the timeout', async () => {
    // Killed, not waited for: `sleep 30` would otherwise end and print "never".
    const result = await runCli(home, [
      'run',
      '--timeout',
      '1',
      "trap '' TERM; echo start; sleep 30; echo never",
    ]);
    assert.equal(result.code, 124);
    assert.equal(result.stdout.toString(), 'start\n');
    assert.match(result.stderr, /timed out after 1 s/);
  });

  test('a memory hog is killed and the run says so', async () => {
    const result = await runCli(home, [
      'run',
      '--memory',
      '64m',
      'head -c 400000000 /dev/zero | tail -c 300000000 >/dev/null',
    ]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /out of memory.*64 MiB/);
  });

  test('a fork bomb is stopped by the process limit and the host is fine', async () => {
    const result = await runCli(home, [
      'run',
      '--pids',
      '100',
      '--timeout',
      '20',
      // Builtins only after the bomb: a shell exits when the limit refuses a fork of its own.
      'bash',
      '-c',
      'bomb() { bomb | bomb & }; bomb; while ((SECONDS < 3)); do :; done; echo alive',
    ]);
    assert.match(result.stdout.toString(), /alive/);
    const after = await runCli(home, ['run', 'echo ok']);
    assert.equal(after.stdout.toString(), 'ok\n');
  });

  test('100 MB of output arrives whole and in order', async () => {
    const script = 'seq 1 13000000 | head -c 100000000';
    const result = await runCli(home, ['run', script]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.length, 100_000_000);
    const check = await runCli(home, ['run', `${script} | sha256sum`]);
    const expected = check.stdout.toString().split(' ')[0];
    assert.equal(createHash('sha256').update(result.stdout).digest('hex'), expected);
  });

  test('binary output survives', async () => {
    const result = await runCli(home, [
      'run',
      'head -c 1000000 /dev/urandom | tee /workspace/r >/dev/null; cat /workspace/r; sha256sum /workspace/r >&2',
    ]);
    const expected = result.stderr.trim().split(' ')[0];
    assert.equal(createHash('sha256').update(result.stdout).digest('hex'), expected);
  });

  test('--net gives outbound network (DNS through slirp4netns), without it there is none', async () => {
    const probe = 'getent hosts deb.debian.org >/dev/null && echo resolved || echo no-dns';
    const offline = await runCli(home, ['run', probe]);
    assert.equal(offline.stdout.toString(), 'no-dns\n');
    const online = await runCli(home, ['run', '--net', probe]);
    if (online.stdout.toString() !== 'resolved\n') {
      // This machine may itself be offline: only then is a failure here not mags's.
      const hostCanResolve = await import('node:dns/promises').then((dns) =>
        dns.lookup('deb.debian.org').then(
          () => true,
          () => false,
        ),
      );
      assert.equal(hostCanResolve, false, `--net could not resolve: ${online.stderr}`);
    }
  });

  test('--json prints machine-readable events', async () => {
    const result = await runCli(home, ['run', '--json', 'echo hi; exit 4']);
    const events = result.stdout
      .toString()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(events[0].type, 'started');
    assert.match(events[0].sandboxId, /^run-/);
    assert.match(events[0].jobId, /^job_/);
    assert.deepEqual(events[1], { type: 'stdout', data: 'hi\n' });
    assert.equal(events.at(-1).type, 'exit');
    assert.equal(events.at(-1).exitCode, 4);
    assert.equal(result.code, 4);
  });

  test('workspace list and delete', async () => {
    await runCli(home, ['run', '-w', 'listed', 'head -c 10000 /dev/zero > z']);
    const list = await runCli(home, ['workspace', 'list', '--json']);
    const workspaces = JSON.parse(list.stdout.toString()) as Array<{
      name: string;
      sizeBytes: number;
    }>;
    const listed = workspaces.find((workspace) => workspace.name === 'listed');
    assert.ok(listed && listed.sizeBytes >= 10_000, list.stdout.toString());
    const deleted = await runCli(home, ['workspace', 'delete', 'listed']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.ok(!existsSync(join(home, 'workspaces', 'listed')));
    const again = await runCli(home, ['workspace', 'delete', 'listed']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /does not exist/);
  });

  test('nothing is left behind: no run directories, no cgroups', async () => {
    const runs = await readdir(join(home, 'run')).catch(() => [] as string[]);
    assert.deepEqual(runs, []);
    // Workspace disks stay mounted by design (under workspaces/); nothing else may be.
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .filter((line) => line.includes(home) && !line.includes(`${home}/workspaces`));
    assert.deepEqual(mounts, []);
  });
});

describe('mags run without its dependencies', () => {
  test('missing native binaries say how to build them', { skip }, async () => {
    const testHome = await createTestHome();
    try {
      const result = await runCli(testHome.home, ['run', 'true'], {
        env: { MAGS_NATIVE_DIR: '/nonexistent' },
      });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /cannot run namespace sandboxes/);
      assert.match(result.stderr, /mags-sandbox is missing\): run npm run build/);
    } finally {
      await testHome.cleanup();
    }
  });

  test('a missing base image says how to build it', async () => {
    const testHome = await createTestHome();
    try {
      const result = await runCli(testHome.home, ['run', '--image', 'not-built', 'true']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /mags image build/);
    } finally {
      await testHome.cleanup();
    }
  });
});
