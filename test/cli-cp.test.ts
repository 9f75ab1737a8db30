/**
 * `mags cp` and `mags run -f DIR` through the real CLI: in-process (no server) on a workspace,
 * and through a real `mags server` process to a sandbox and to a workspace without one, with a
 * 256 MiB file streamed both ways while the memory of the client and of the server stays small.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageRoot } from '../src/config/package-paths.ts';
import { Mags } from '../src/sdk/index.ts';
import { rssBytes } from './helpers/host-measures.ts';
import { startServerProcess, stopServerProcess } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping mags cp tests: ${skip}\n`);

const mebibyte = 1024 * 1024;

async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'nested', 'deeper'), { recursive: true });
  await mkdir(join(root, 'empty'));
  await writeFile(join(root, 'top.txt'), 'top\n');
  await writeFile(join(root, 'nested', 'deeper', 'leaf.txt'), 'leaf\n');
  await writeFile(join(root, 'nested', 'tool.sh'), '#!/bin/sh\necho tool ran\n');
  await chmod(join(root, 'nested', 'tool.sh'), 0o755);
  await symlink('deeper/leaf.txt', join(root, 'nested', 'leaf-link'));
}

async function assertSameTree(root: string): Promise<void> {
  assert.equal(await readFile(join(root, 'top.txt'), 'utf8'), 'top\n');
  assert.equal(await readFile(join(root, 'nested', 'deeper', 'leaf.txt'), 'utf8'), 'leaf\n');
  assert.equal((await stat(join(root, 'nested', 'tool.sh'))).mode & 0o777, 0o755);
  assert.ok((await lstat(join(root, 'nested', 'leaf-link'))).isSymbolicLink());
  assert.equal(await readlink(join(root, 'nested', 'leaf-link')), 'deeper/leaf.txt');
  assert.ok((await stat(join(root, 'empty'))).isDirectory());
}

const listing =
  'cd /workspace/tree && find . | sort && nested/tool.sh && readlink nested/leaf-link';
const expectedListing =
  '.\n./empty\n./nested\n./nested/deeper\n./nested/deeper/leaf.txt\n./nested/leaf-link\n' +
  './nested/tool.sh\n./top.txt\ntool ran\ndeeper/leaf.txt\n';

/**
 * Runs the CLI and samples its resident memory every 20 ms until it exits: the peak seen (a
 * lower bound of the true peak, close to it for a copy that takes a while).
 */
function runCliMeasured(
  home: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; peakRssBytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'mags.js'), ...args], {
      env: { ...process.env, MAGS_HOME: home, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let peakRssBytes = 0;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setInterval(() => {
      rssBytes(child.pid as number).then(
        (bytes) => {
          // A process on its way out has no VmRSS any more (NaN): its last figure stands.
          if (Number.isFinite(bytes)) peakRssBytes = Math.max(peakRssBytes, bytes);
        },
        () => {},
      );
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({ code, stderr, peakRssBytes });
    });
  });
}

describe('mags cp in-process (no server)', { skip, timeout: 300_000 }, () => {
  let testHome: TestHome;
  let home: string;
  before(async () => {
    testHome = await createTestHome();
    home = testHome.home;
    await makeTree(join(home, 'tree'));
  });
  after(() => testHome.cleanup());

  test('a tree goes into a workspace with no sandbox, the next run sees it, and it comes back', async () => {
    const copied = await runCli(home, ['cp', join(home, 'tree'), 'cpw:/workspace/tree']);
    assert.equal(copied.code, 0, copied.stderr);
    assert.match(copied.stderr, /copied 8 entries .* to cpw:\/workspace\/tree/);
    const run = await runCli(home, ['run', '-w', 'cpw', listing]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.toString(), expectedListing);

    const back = join(home, 'back');
    const out = await runCli(home, ['cp', 'cpw:/workspace/tree', back]);
    assert.equal(out.code, 0, out.stderr);
    await assertSameTree(back);
    // Into an existing local directory: under the remote name.
    const into = await runCli(home, ['cp', 'cpw:/workspace/tree/top.txt', back]);
    assert.equal(into.code, 0, into.stderr);
    assert.equal(await readFile(join(back, 'top.txt'), 'utf8'), 'top\n');
  });

  test('a download merges into a local tree, or moves nothing when a directory meets a file', async () => {
    const clash = join(home, 'clash');
    await mkdir(join(clash, 'tree'), { recursive: true });
    await writeFile(join(clash, 'tree', 'top.txt'), 'mine\n');
    await writeFile(join(clash, 'tree', 'nested'), 'a file where the copy has a directory\n');
    const refused = await runCli(home, ['cp', 'cpw:/workspace/tree', clash]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /Cannot replace the file .*nested with a directory/);
    assert.equal(await readFile(join(clash, 'tree', 'top.txt'), 'utf8'), 'mine\n');
    assert.deepEqual((await readdir(clash)).sort(), ['tree']); // no staging left
    await rm(join(clash, 'tree', 'nested'));
    const merged = await runCli(home, ['cp', 'cpw:/workspace/tree', clash]);
    assert.equal(merged.code, 0, merged.stderr);
    await assertSameTree(join(clash, 'tree'));
  });

  test('a file into a remote directory ("/" at the end), and mistakes are clear', async () => {
    const file = join(home, 'one.txt');
    await writeFile(file, 'one\n');
    const copied = await runCli(home, ['cp', file, 'cpw:/workspace/']);
    assert.equal(copied.code, 0, copied.stderr);
    const run = await runCli(home, ['run', '-w', 'cpw', 'cat /workspace/one.txt']);
    assert.equal(run.stdout.toString(), 'one\n');

    const missing = await runCli(home, ['cp', 'cpw:/workspace/nope', join(home, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No file or directory \/workspace\/nope/);
    assert.equal(existsSync(join(home, 'nope')), false);
    const noWorkspace = await runCli(home, ['cp', 'absent:/workspace', join(home, 'x')]);
    assert.equal(noWorkspace.code, 1);
    assert.match(noWorkspace.stderr, /No workspace "absent"/);
    const bothLocal = await runCli(home, ['cp', file, join(home, 'two.txt')]);
    assert.equal(bothLocal.code, 2);
    assert.match(bothLocal.stderr, /Exactly one side of mags cp is NAME:\/path/);
    const noSource = await runCli(home, ['cp', join(home, 'absent'), 'cpw:/workspace/x']);
    assert.equal(noSource.code, 2);
    assert.match(noSource.stderr, /no such file or directory/);
  });

  test('a copy out stops past --max-size, leaving nothing', async () => {
    const made = await runCli(home, [
      'run',
      '-w',
      'cpw',
      'head -c 3M /dev/zero > /workspace/three',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const target = join(home, 'capped');
    const capped = await runCli(home, ['cp', '--max-size', '1', 'cpw:/workspace/three', target]);
    assert.equal(capped.code, 1, capped.stderr);
    assert.match(capped.stderr, /stopped at 1\.0 MiB of tar, its limit/);
    assert.match(capped.stderr, /--max-size/);
    assert.equal(existsSync(target), false);
    const bad = await runCli(home, ['cp', '--max-size', 'lots', 'cpw:/workspace/three', target]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /Invalid --max-size "lots"/);
    const whole = await runCli(home, ['cp', '--max-size', '4m', 'cpw:/workspace/three', target]);
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal((await stat(target)).size, 3 * mebibyte);
    await runCli(home, ['run', '-w', 'cpw', 'rm /workspace/three']);
  });

  test('Ctrl-C ends an upload stalled in the sandbox: nothing copied, the workspace free again', async () => {
    // A tar in the workspace that never reads its stdin: the pipe fills and the upload waits on
    // it, where only an interrupt that does not wait for the next chunk can end it.
    const stall = await runCli(home, [
      'run',
      '-w',
      'cpstall',
      'printf "#!/bin/sh\\nexec sleep 600\\n" > /usr/local/bin/tar && chmod 755 /usr/local/bin/tar',
    ]);
    assert.equal(stall.code, 0, stall.stderr);
    const big = join(home, 'stall.bin');
    await writeFile(big, Buffer.alloc(32 * mebibyte, 7));
    const child = spawn(
      process.execPath,
      [join(packageRoot(), 'bin', 'mags.js'), 'cp', big, 'cpstall:/workspace/big'],
      { env: { ...process.env, MAGS_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Long enough for the sandbox to start and the pipe to fill; an earlier interrupt must work too.
    await new Promise((resolve) => setTimeout(resolve, 8000));
    child.kill('SIGINT');
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await closed;
    clearTimeout(killer);
    assert.notEqual(code, null, `the copy did not end on SIGINT (killed after 60 s): ${stderr}`);
    assert.notEqual(code, 0);
    assert.match(stderr, /The copy was interrupted/);
    const after = await runCli(home, [
      'run',
      '-w',
      'cpstall',
      'rm /usr/local/bin/tar && ls -A /workspace',
    ]);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout.toString(), '');
  });

  test('mags run -f DIR lands the tree as /workspace/DIR', async () => {
    const run = await runCli(home, ['run', '-f', join(home, 'tree'), listing]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.toString(), expectedListing);
  });
});

describe('mags cp through a server process', { skip, timeout: 600_000 }, () => {
  let testHome: TestHome;
  let home: string;
  let server: Awaited<ReturnType<typeof startServerProcess>>;
  let env: Record<string, string>;
  let mags: Mags;
  before(async () => {
    testHome = await createTestHome();
    home = testHome.home;
    server = await startServerProcess({ ...process.env, MAGS_HOME: home }, ['--pool-size', '0']);
    const created = await runCli(home, ['token', 'create', '--owner', 'carol']);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.toString().trim();
    env = { MAGS_URL: server.url, MAGS_API_TOKEN: token };
    mags = new Mags({ url: server.url, token });
    await mags.sandboxes.create({ name: 'dev' });
    await makeTree(join(home, 'tree'));
  });
  after(async () => {
    await stopServerProcess(server?.child, { stopSandboxes: true });
    await testHome.cleanup();
  });

  test('a tree into a sandbox and back out', async () => {
    const copied = await runCli(home, ['cp', join(home, 'tree'), 'dev:/workspace/tree'], { env });
    assert.equal(copied.code, 0, copied.stderr);
    const seen = await mags.sandboxes.execAndWait('dev', listing);
    assert.equal(seen.stdout, expectedListing);
    const back = join(home, 'back');
    const out = await runCli(home, ['cp', 'dev:/workspace/tree', back], { env });
    assert.equal(out.code, 0, out.stderr);
    await assertSameTree(back);
  });

  test('a name with no sandbox is a workspace: one is started for the copy', async () => {
    const copied = await runCli(home, ['cp', join(home, 'tree'), 'remote-ws:/workspace/tree'], {
      env,
    });
    assert.equal(copied.code, 0, copied.stderr);
    const run = await runCli(home, ['run', '-w', 'remote-ws', listing], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.toString(), expectedListing);
  });

  test('mags run -f DIR through the server', async () => {
    const run = await runCli(home, ['run', '-f', join(home, 'tree'), listing], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.toString(), expectedListing);
  });

  /**
   * Big enough that a copy held in memory would show: 256 MiB (a buffered copy would add at least
   * that much; streamed, growth is the garbage collector's slack).
   */
  const bigMiB = Number(process.env.CP_TEST_MIB ?? 256);

  test(`a ${bigMiB} MiB file streams both ways; client and server hold well under it`, async () => {
    const big = join(home, 'big');
    await mkdir(big);
    const bytes = Buffer.alloc(bigMiB * mebibyte);
    for (let offset = 0; offset < bytes.length; offset += 4) bytes.writeUInt32LE(offset, offset);
    await writeFile(join(big, 'blob.bin'), bytes);
    const digest = createHash('sha256').update(bytes).digest('hex');
    // The baseline: the same CLI copying a tiny tree, measured the same way in this run.
    const small = await runCliMeasured(home, ['cp', join(home, 'tree'), 'dev:/tmp/small'], env);
    assert.equal(small.code, 0, small.stderr);
    const serverPid = server.child.pid as number;
    const serverBefore = await rssBytes(serverPid);
    let serverPeak = serverBefore;
    const sampler = setInterval(() => {
      rssBytes(serverPid).then(
        (bytes) => {
          serverPeak = Math.max(serverPeak, bytes);
        },
        () => {},
      );
    }, 20);
    const up = await runCliMeasured(home, ['cp', big, 'dev:/workspace/big'], env);
    assert.equal(up.code, 0, up.stderr);
    const check = await mags.sandboxes.execAndWait('dev', 'sha256sum /workspace/big/blob.bin');
    assert.equal(check.stdout.split(' ')[0], digest);
    const down = await runCliMeasured(home, ['cp', 'dev:/workspace/big', join(home, 'down')], env);
    assert.equal(down.code, 0, down.stderr);
    const copy = await readFile(join(home, 'down', 'blob.bin'));
    assert.equal(createHash('sha256').update(copy).digest('hex'), digest);
    clearInterval(sampler);
    const serverGrowth = serverPeak - serverBefore;
    const clientGrowth = Math.max(up.peakRssBytes, down.peakRssBytes) - small.peakRssBytes;
    process.stdout.write(
      `# client peak RSS ${Math.round(small.peakRssBytes / mebibyte)} MiB for a tiny tree, ` +
        `+${Math.round(clientGrowth / mebibyte)} MiB for ${bigMiB} MiB; server +${Math.round(serverGrowth / mebibyte)} MiB\n`,
    );
    // Holding the file whole would take all of it (and tar's copy more); the garbage collector's
    // slack while 256 MiB flows through is about 60-100 MiB here.
    const boundBytes = (bigMiB * mebibyte * 3) / 4;
    assert.ok(clientGrowth < boundBytes, `client RSS grew by ${clientGrowth} bytes`);
    assert.ok(serverGrowth < boundBytes, `server RSS grew by ${serverGrowth} bytes`);
  });
});
