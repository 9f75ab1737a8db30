/**
 * Trees in and out of sandboxes and workspaces (`/v1/.../archive`, the SDK's `uploadTree` and
 * `downloadTree`) against a real server with real sandboxes: modes, empty directories and
 * symlinks kept both ways, a hostile archive made inside a sandbox refused by the host's
 * extractor, an upload over the limit refused with nothing left behind, owner isolation, and a
 * workspace copied into without a sandbox running on it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Mags } from '../src/sdk/mags.ts';
import { partialRequest } from './helpers/partial-request.ts';
import { sandboxSkipReason } from './helpers/test-home.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping archive tests: ${skip}\n`);

const mebibyte = 1024 * 1024;
/** Small enough that a test can go over it quickly. */
const maxUploadBytes = 8 * mebibyte;

/** A local tree: nested directories, an executable script, an empty directory, a symlink. */
async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'sub', 'deeper'), { recursive: true });
  await mkdir(join(root, 'empty'));
  await writeFile(join(root, 'a.txt'), 'alpha\n');
  await writeFile(join(root, 'sub', 'deeper', 'b.txt'), 'beta\n');
  await writeFile(join(root, 'sub', 'run.sh'), '#!/bin/sh\necho ran\n');
  await chmod(join(root, 'sub', 'run.sh'), 0o755);
  await symlink('../a.txt', join(root, 'sub', 'link'));
}

describe('tree copies through the archive API', { skip, timeout: 600_000 }, () => {
  let server: TestServer;
  let alice: Mags;
  let aliceToken: string;
  let bob: Mags;
  let local: string;
  const sandbox = 'trees';

  before(async () => {
    server = await startTestServer({ maxUploadBytes, scheduling: { poolSize: 0 } });
    const aliceClient = await server.client('alice');
    alice = aliceClient.mags;
    aliceToken = aliceClient.token;
    bob = (await server.client('bob')).mags;
    await alice.sandboxes.create({ name: sandbox });
    local = join(server.testHome.home, 'local');
    await mkdir(local);
  });
  after(() => server?.close());

  test('a tree goes in with modes, an empty directory and a symlink, and comes back the same', async () => {
    const source = join(local, 'tree');
    await makeTree(source);
    const progress = await alice.sandboxes.files.uploadTree(sandbox, source, '/workspace/project');
    assert.ok(progress.files >= 8, `files ${progress.files}`);
    const check = await alice.sandboxes.execAndWait(
      sandbox,
      'cd /workspace/project && cat a.txt sub/deeper/b.txt && sub/run.sh && test -d empty && readlink sub/link && stat -c %U sub/run.sh && ls -A /workspace',
    );
    assert.equal(check.exitCode, 0, check.stderr);
    assert.equal(check.stdout, 'alpha\nbeta\nran\n../a.txt\nroot\nproject\n');

    const back = join(local, 'back');
    await alice.sandboxes.files.downloadTree(sandbox, '/workspace/project', back);
    assert.equal(await readFile(join(back, 'sub', 'deeper', 'b.txt'), 'utf8'), 'beta\n');
    assert.equal((await stat(join(back, 'sub', 'run.sh'))).mode & 0o777, 0o755);
    assert.ok((await lstat(join(back, 'sub', 'link'))).isSymbolicLink());
    assert.equal(await readlink(join(back, 'sub', 'link')), '../a.txt');
    assert.deepEqual(await readdir(join(back, 'empty')), []);
    // Nothing but the copy was left beside it (the staging directory is gone).
    assert.deepEqual((await readdir(local)).sort(), ['back', 'tree']);
  });

  test('a tree copied onto an existing one is merged into it: same names replaced, others kept', async () => {
    const extra = await alice.sandboxes.execAndWait(
      sandbox,
      'echo kept > /workspace/project/extra',
    );
    assert.equal(extra.exitCode, 0, extra.stderr);
    const source = join(local, 'tree2');
    await mkdir(join(source, 'sub'), { recursive: true });
    await writeFile(join(source, 'a.txt'), 'changed\n');
    await writeFile(join(source, 'sub', 'new.txt'), 'new\n');
    await alice.sandboxes.files.uploadTree(sandbox, source, '/workspace/project');
    const check = await alice.sandboxes.execAndWait(
      sandbox,
      'cd /workspace/project && cat a.txt extra sub/new.txt sub/deeper/b.txt && ls -A /workspace',
    );
    assert.equal(check.exitCode, 0, check.stderr);
    assert.equal(check.stdout, 'changed\nkept\nnew\nbeta\nproject\n');
    // Put back what the tests below expect.
    await alice.sandboxes.execAndWait(
      sandbox,
      'cd /workspace/project && echo alpha > a.txt && rm -r extra sub/new.txt',
    );
  });

  test('a single file goes in under a new name and comes out', async () => {
    const file = join(local, 'note.txt');
    await writeFile(file, 'note\n');
    await alice.sandboxes.files.uploadTree(sandbox, file, '/workspace/renamed.txt');
    assert.equal(
      Buffer.from(await alice.sandboxes.files.read(sandbox, '/workspace/renamed.txt')).toString(),
      'note\n',
    );
    const out = join(local, 'out.txt');
    await alice.sandboxes.files.downloadTree(sandbox, '/workspace/renamed.txt', out);
    assert.equal(await readFile(out, 'utf8'), 'note\n');
  });

  test('a download over maxBytes stops there and leaves nothing', async () => {
    const made = await alice.sandboxes.execAndWait(sandbox, 'head -c 3M /dev/zero > /tmp/three');
    assert.equal(made.exitCode, 0, made.stderr);
    const target = join(local, 'capped');
    await assert.rejects(
      alice.sandboxes.files.downloadTree(sandbox, '/tmp/three', target, { maxBytes: mebibyte }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'too_large');
        assert.match(error.message, /stopped at 1\.0 MiB of tar/);
        return true;
      },
    );
    assert.equal(existsSync(target), false);
    assert.deepEqual(
      (await readdir(local)).filter((name) => name.startsWith('.mags-download-')),
      [],
    );
    const whole = await alice.sandboxes.files.downloadTree(sandbox, '/tmp/three', target, {
      maxBytes: 4 * mebibyte,
    });
    assert.ok(whole.bytes > 3 * mebibyte);
    assert.equal((await stat(target)).size, 3 * mebibyte);
  });

  test('an upload where a directory meets a file changes nothing (409); old staging is swept', async () => {
    // A staging directory left by a killed upload two hours ago, and a file where the upload
    // has a directory.
    const made = await alice.sandboxes.execAndWait(
      sandbox,
      'mkdir -p /workspace/clash /workspace/.mags-upload-stale && echo file > /workspace/clash/sub && ln -s /tmp /workspace/clash/link && touch -d "2 hours ago" /workspace/.mags-upload-stale',
    );
    assert.equal(made.exitCode, 0, made.stderr);
    const source = join(local, 'clash');
    await mkdir(join(source, 'sub'), { recursive: true });
    await writeFile(join(source, 'aaa'), 'would be moved first\n');
    await writeFile(join(source, 'sub', 'inner'), 'inner\n');
    // A directory onto a symlink to one: cp would refuse it halfway, so it is refused first.
    await mkdir(join(source, 'link'));
    await writeFile(join(source, 'link', 'through'), 'not through the link\n');
    await assert.rejects(
      alice.sandboxes.files.uploadTree(sandbox, source, '/workspace/clash'),
      (error: Error & { statusCode?: number; code?: string }) => {
        assert.equal(error.statusCode, 409);
        assert.equal(error.code, 'archive_conflict');
        assert.match(
          error.message,
          /cannot replace the file \/workspace\/clash\/sub with a directory/,
        );
        assert.match(error.message, /cannot replace the symlink \/workspace\/clash\/link with/);
        return true;
      },
    );
    const check = await alice.sandboxes.execAndWait(
      sandbox,
      'ls -A /workspace/clash && cat /workspace/clash/sub && test ! -e /tmp/through && rm -r /workspace/clash && ls -A /workspace | grep -c mags-upload || true',
    );
    assert.equal(check.exitCode, 0, check.stderr);
    // The clash is untouched, nothing went through the link, no staging directory is left.
    assert.equal(check.stdout, 'link\nsub\nfile\n0\n');
  });

  test('a hostile archive from the sandbox is refused on the host, nothing written outside', async () => {
    // The sandbox's own tar packs a download, and a sandbox may replace it: here a tar earlier
    // in PATH answers every download with a hostile archive (a symlink to /, then a file
    // "under" it, then ../escape), which GNU tar inside the sandbox builds.
    const made = await alice.sandboxes.execAndWait(
      sandbox,
      [
        'set -e',
        'mkdir -p /tmp/h/evil /tmp/hx/evil/root/tmp',
        'ln -s / /tmp/h/evil/root',
        'echo owned > /tmp/hx/evil/root/tmp/mags-owned',
        'echo out > /tmp/h/escape',
        'tar -cf /tmp/hostile.tar -C /tmp/h evil/root -C /tmp/hx evil/root/tmp/mags-owned -P -C /tmp/h/evil ../escape',
        'tar -tf /tmp/hostile.tar',
        'printf "#!/bin/sh\\ncat /tmp/hostile.tar\\n" > /usr/local/bin/tar',
        'chmod 755 /usr/local/bin/tar',
      ].join('\n'),
    );
    assert.equal(made.exitCode, 0, made.stderr);
    assert.equal(made.stdout, 'evil/root\nevil/root/tmp/mags-owned\n../escape\n');
    try {
      await mkdir(join(local, 'hostile'));
      const target = join(local, 'hostile', 'evil');
      await assert.rejects(
        alice.sandboxes.files.downloadTree(sandbox, '/tmp/h', target),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, 'archive_refused');
          // node-tar will not make a link to "/" (nor one that leads outside), and never writes
          // a path with ".." in it.
          assert.match(error.message, /evil\/root/);
          assert.match(error.message, /\.\.\/escape/);
          return true;
        },
      );
      assert.equal(existsSync('/tmp/mags-owned'), false);
      assert.equal(existsSync(join(local, 'escape')), false);
      assert.deepEqual(await readdir(join(local, 'hostile')), []);
    } finally {
      await alice.sandboxes.execAndWait(sandbox, 'rm -f /usr/local/bin/tar');
    }
  });

  test('an upload over the limit is 413 and leaves nothing in the sandbox', async () => {
    const big = join(local, 'big');
    await mkdir(big);
    await writeFile(join(big, 'blob'), Buffer.alloc(maxUploadBytes + mebibyte, 7));
    await assert.rejects(alice.sandboxes.files.uploadTree(sandbox, big, '/workspace/big'), {
      statusCode: 413,
      code: 'too_large',
    });
    // Declared over the limit: answered before the body is read (4 MiB of a declared 700 sent).
    for (const path of ['/v1/sandboxes/trees/archive', '/v1/workspaces/trees/archive']) {
      const status = await partialRequest(
        server.url,
        { method: 'PUT', path: `${path}?path=/workspace/declared`, token: aliceToken },
        700 * mebibyte,
        4 * mebibyte,
      );
      assert.match(status, /^HTTP\/1\.1 413 /, path);
    }
    const left = await alice.sandboxes.execAndWait(sandbox, 'ls -A /workspace');
    assert.equal(left.exitCode, 0, left.stderr);
    assert.doesNotMatch(left.stdout, /big|declared|mags-upload/);
  });

  test('HEAD answers at once and leaves nothing running; a cancelled download ends tar', async () => {
    const url = `${server.url}/v1/sandboxes/${sandbox}/archive?path=/usr`;
    const headers = { authorization: `Bearer ${aliceToken}` };
    for (let index = 0; index < 3; index++) {
      const head = await fetch(url, { method: 'HEAD', headers });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-type'), 'application/x-tar');
    }
    const missing = await fetch(url.replace('/usr', '/nope'), { method: 'HEAD', headers });
    assert.equal(missing.status, 404);
    const abort = new AbortController();
    const response = await fetch(url.replace('/usr', '/usr/..'), {
      headers,
      signal: abort.signal,
    });
    assert.equal(response.status, 400); // ".." is refused before anything runs
    // /usr is hundreds of MB: tar blocks on its output while the client reads nothing.
    const started = await fetch(url, { headers, signal: abort.signal });
    const reader = (started.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const tars = async () => {
      const counted = await alice.sandboxes.execAndWait(
        sandbox,
        // Every process's argv from /proc (the image may have no ps).
        `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^tar -c -C / -f - -- usr' || true`,
      );
      return counted.stdout.trim();
    };
    assert.equal(await tars(), '1', 'tar runs while the download is open');
    abort.abort(); // the client goes away...
    await reader.read().catch(() => {});
    // ...and tar ends with it.
    let left = await tars();
    for (let attempt = 0; attempt < 20 && left !== '0'; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await tars();
    }
    assert.equal(left, '0');
  });

  test('a missing remote path is a 404; a file where a directory must go is a clear 400', async () => {
    await assert.rejects(
      alice.sandboxes.files.downloadTree(sandbox, '/workspace/nope', join(local, 'nope')),
      { statusCode: 404, code: 'file_not_found' },
    );
    assert.equal(existsSync(join(local, 'nope')), false);
    const tree = join(local, 'tree');
    await assert.rejects(
      alice.sandboxes.files.uploadTree(sandbox, tree, '/workspace/renamed.txt/inside'),
      (error: Error & { statusCode?: number; code?: string }) => {
        assert.equal(error.statusCode, 400);
        assert.equal(error.code, 'archive_failed');
        assert.match(error.message, /tar|Not a directory|File exists/);
        return true;
      },
    );
  });

  test('an image without tar: both directions say so, with what to do', async () => {
    const hidden = await alice.sandboxes.execAndWait(
      sandbox,
      'mv /usr/bin/tar /usr/bin/tar.hidden',
    );
    assert.equal(hidden.exitCode, 0, hidden.stderr);
    try {
      const expected = (error: Error & { statusCode?: number; code?: string; hint?: string }) => {
        assert.equal(error.statusCode, 424);
        assert.equal(error.code, 'archive_failed');
        assert.match(error.message, /tar: not found/);
        assert.match(error.hint ?? '', /install it in the image/);
        return true;
      };
      await assert.rejects(
        alice.sandboxes.files.uploadTree(sandbox, join(local, 'note.txt'), '/workspace/n.txt'),
        expected,
      );
      await assert.rejects(
        alice.sandboxes.files.downloadTree(sandbox, '/workspace/project', join(local, 'no-tar')),
        expected,
      );
      assert.equal(existsSync(join(local, 'no-tar')), false);
    } finally {
      await alice.sandboxes.execAndWait(sandbox, 'mv /usr/bin/tar.hidden /usr/bin/tar');
    }
  });

  test("a full disk fails the upload with tar's words and gives the space back", async () => {
    await alice.sandboxes.create({ name: 'small', limits: { diskMiB: 32 } });
    // Fill the 32 MiB disk but for about 2 MiB, then copy 6 MiB in.
    const fill = await alice.sandboxes.execAndWait(
      'small',
      'free=$(df -k --output=avail /workspace | tail -1); dd if=/dev/zero of=/workspace/fill bs=1k count=$((free - 2048)) 2>/dev/null; df -k --output=avail /workspace | tail -1',
    );
    assert.equal(fill.exitCode, 0, fill.stderr);
    const tree = join(local, 'six');
    await mkdir(tree);
    for (const name of ['a', 'b', 'c'])
      await writeFile(join(tree, name), Buffer.alloc(2 * mebibyte, 1));
    await assert.rejects(
      alice.sandboxes.files.uploadTree('small', tree, '/workspace/six'),
      (error: Error & { statusCode?: number; code?: string; hint?: string }) => {
        assert.equal(error.statusCode, 400);
        assert.equal(error.code, 'archive_failed');
        assert.match(error.message, /No space left on device/);
        assert.match(error.hint ?? '', /disk is full/);
        return true;
      },
    );
    const after = await alice.sandboxes.execAndWait(
      'small',
      'ls -A /workspace; df -k --output=avail /workspace | tail -1',
    );
    const [listing, available] = [
      after.stdout.split('\n').slice(0, -2),
      after.stdout.split('\n').at(-2),
    ];
    assert.deepEqual(listing, ['fill'], 'nothing of the copy is left');
    assert.ok(Number(available) >= 1536, `${available} KiB free again`);
    await alice.sandboxes.delete('small');
  });

  test("another owner's sandbox and workspace are 404", async () => {
    const tree = join(local, 'tree');
    await assert.rejects(bob.sandboxes.files.uploadTree(sandbox, tree, '/workspace/x'), {
      statusCode: 404,
    });
    await assert.rejects(
      bob.sandboxes.files.downloadTree(sandbox, '/workspace/project', join(local, 'bob')),
      { statusCode: 404 },
    );
    await assert.rejects(
      bob.workspaces.downloadTree(sandbox, '/workspace/project', join(local, 'bob')),
      { statusCode: 404 },
    );
    assert.equal(existsSync(join(local, 'bob')), false);
    // A copy into "trees" as bob makes bob's own workspace of that name, as a run would.
    const note = join(local, 'bob-note');
    await writeFile(note, 'bob\n');
    await bob.workspaces.uploadTree(sandbox, note, '/workspace/project/a.txt');
    const hers = await alice.sandboxes.execAndWait(sandbox, 'cat /workspace/project/a.txt');
    assert.equal(hers.stdout, 'alpha\n');
    const his = join(local, 'bob-copy');
    await bob.workspaces.downloadTree(sandbox, '/workspace/project', his);
    assert.deepEqual(await readdir(his), ['a.txt']);
    assert.equal(await readFile(join(his, 'a.txt'), 'utf8'), 'bob\n');
  });

  test("a workspace's copy goes through its running sandbox", async () => {
    // The sandbox "trees" writes workspace "trees": the workspace route uses it.
    const out = join(local, 'via-workspace');
    await alice.workspaces.downloadTree(sandbox, '/workspace/project', out);
    assert.equal(await readFile(join(out, 'a.txt'), 'utf8'), 'alpha\n');
  });

  test('a workspace without a sandbox gets the tree, and the next run sees it', async () => {
    const tree = join(local, 'tree');
    await alice.workspaces.uploadTree('cold', tree, '/workspace/src');
    const run = await alice.runAndWait('ls -A /workspace/src && /workspace/src/sub/run.sh', {
      workspace: 'cold',
    });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.stdout, 'a.txt\nempty\nsub\nran\n');
    const out = join(local, 'cold-out');
    await alice.workspaces.downloadTree('cold', '/workspace/src/sub', out);
    assert.equal((await stat(join(out, 'run.sh'))).mode & 0o777, 0o755);
  });
});

describe("copies count against the owner's limits", { skip, timeout: 300_000 }, () => {
  let server: TestServer;
  let carol: Mags;
  let tree: string;
  before(async () => {
    server = await startTestServer({
      scheduling: { poolSize: 0 },
      perOwner: { runningJobs: 1, streams: 1 },
    });
    carol = (await server.client('carol')).mags;
    tree = join(server.testHome.home, 'tree');
    await makeTree(tree);
  });
  after(() => server?.close());

  test("a workspace's copy sandbox is a running job, a copy out a stream: 429 past either", async () => {
    await carol.workspaces.uploadTree('one', tree, '/workspace/t');
    // 1 GiB written out (not sparse: a file with no blocks may go into the archive as a hole,
    // and end at once): the copy out below, not read, lasts as long as the test whatever the
    // buffers on the way hold.
    const big = await carol.runAndWait('head -c 1G /dev/zero > /workspace/big', {
      workspace: 'one',
    });
    assert.equal(big.exitCode, 0, big.stderr);
    // A copy out, not read: its sandbox runs on and its stream stays open.
    const held = await carol.workspaces.getArchive('one', '/workspace/big');
    await assert.rejects(
      carol.workspaces.uploadTree('two', tree, '/workspace/t'),
      (error: Error & { statusCode?: number }) => {
        assert.equal(error.statusCode, 429);
        assert.match(error.message, /jobs running, the most one owner may/);
        return true;
      },
    );
    await assert.rejects(
      carol.sandboxes.files.downloadTree('one', '/workspace/t', join(tree, 'x')),
      (error: Error & { statusCode?: number }) => {
        assert.equal(error.statusCode, 429);
        assert.match(error.message, /streams open, the most one owner may/);
        return true;
      },
    );
    await held.cancel();
    // The slot is freed once the sandbox's stream has closed, a moment after the cancel.
    for (let attempt = 0; ; attempt++) {
      try {
        await carol.workspaces.uploadTree('two', tree, '/workspace/t');
        break;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 429 || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const run = await carol.runAndWait('ls /workspace/t', { workspace: 'two' });
    assert.equal(run.stdout, 'a.txt\nempty\nsub\n');
  });
});
