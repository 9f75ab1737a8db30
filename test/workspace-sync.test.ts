/**
 * Persistent workspaces end to end: real sandboxes write the layers, two MAGS_HOMEs play two hosts
 * sharing one store (the filesystem store, and the real S3 server when it runs).
 */
import assert from 'node:assert/strict';
import { execFileSync, fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createMagsContext, type MagsContext } from '../src/context/mags-context.ts';
import type { MagsError } from '../src/errors/mags-error.ts';
import { runCommand } from '../src/jobs/run-command.ts';
import { StoreUnavailableError } from '../src/storage/object-store.ts';
import { s3TestBucket } from '../src/storage/s3/s3-test-server.ts';
import { chunkKey, manifestKey, packKey } from '../src/workspaces/sync/manifest.ts';
import { loadManifest } from '../src/workspaces/sync/versions.ts';
import { processesMentioning, waitUntil } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping workspace sync tests: ${skip}\n`);

function capture(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
    text: () => Buffer.concat(chunks).toString(),
  };
}

async function run(
  context: MagsContext,
  workspace: string,
  script: string,
  extra: { persist?: boolean; version?: number } = {},
) {
  const stdout = capture();
  const stderr = capture();
  const result = await runCommand(context, {
    argv: ['/bin/bash', '-c', script],
    workspace,
    persist: extra.persist ?? true,
    version: extra.version,
    timeoutMs: 120_000,
    limits: context.defaults.limits,
    network: false,
    image: 'default',
    stdout: stdout.stream,
    stderr: stderr.stream,
  });
  return { ...result, stdout: stdout.text(), stderr: stderr.text() };
}

const writeOddTree = [
  'cd /workspace',
  'printf "spaces" > "a file with spaces"',
  `printf "newline" > "$(printf 'line\\nbreak')"`,
  'printf "unicode" > "ünïcødé-日本.txt"',
  'ln -s /etc/shadow outside-link && ln -s ../nowhere dangling',
  'printf "shared" > hard-a && ln hard-a hard-b',
  ': > empty && mkdir -p empty-dir/nested',
  'printf "secret" > private && chmod 600 private && chmod 751 empty-dir',
  'truncate -s 2G sparse.img && printf "tail" >> sparse.img',
  'head -c 20000000 /dev/urandom > big.bin && sha256sum big.bin > big.sha',
  // Deletions below the image: whiteouts and an opaque directory.
  'rm /etc/hostname && rm -rf /etc/apt && mkdir /etc/apt && echo mine > /etc/apt/only',
].join(' && ');

const checkOddTree = [
  'cd /workspace',
  'cat "a file with spaces"; echo',
  `cat "$(printf 'line\\nbreak')"; echo`,
  'cat "ünïcødé-日本.txt"; echo',
  'readlink outside-link; readlink dangling',
  'cat hard-b; echo; stat -c %h hard-a',
  'stat -c %s empty; test -d empty-dir/nested && echo dir-ok',
  'stat -c %a private empty-dir',
  'stat -c %s sparse.img; du -k sparse.img | cut -f1; tail -c 4 sparse.img; echo',
  'sha256sum -c big.sha',
  'test -e /etc/hostname || echo hostname-deleted',
  'ls /etc/apt',
].join('; ');

const expectedOddTree = [
  'spaces',
  'newline',
  'unicode',
  '/etc/shadow',
  '../nowhere',
  'shared',
  '2',
  '0',
  'dir-ok',
  '600',
  '751',
  String(2 * 1024 ** 3 + 4),
].join('\n');

function describeStore(
  label: string,
  storeEnvironment: () => Promise<NodeJS.ProcessEnv | { skip: string }>,
) {
  describe(`persistent workspaces on ${label}`, { skip }, () => {
    let hostA: TestHome;
    let hostB: TestHome;
    let a: MagsContext;
    let b: MagsContext;
    let skipReason: string | undefined;
    let environment: NodeJS.ProcessEnv = {};
    before(async () => {
      const resolved = await storeEnvironment();
      if ('skip' in resolved) {
        skipReason = String(resolved.skip);
        return;
      }
      environment = resolved;
      hostA = await createTestHome();
      hostB = await createTestHome();
      a = createMagsContext({ ...process.env, ...environment, MAGS_HOME: hostA.home });
      b = createMagsContext({ ...process.env, ...environment, MAGS_HOME: hostB.home });
    });
    after(async () => {
      await hostA?.cleanup();
      await hostB?.cleanup();
    });
    const it = (title: string, body: () => Promise<void>) =>
      test(title, async (t) => {
        if (skipReason) return t.skip(skipReason);
        await body();
      });

    it('a workspace synced on one host is restored whole on another, odd files included', async () => {
      const first = await run(a, 'odd', writeOddTree);
      assert.equal(first.exitCode, 0, first.stderr);
      assert.equal(first.sync?.version, 1);
      const restored = await run(b, 'odd', checkOddTree);
      assert.equal(restored.exitCode, 0, restored.stderr);
      assert.equal(
        restored.sync?.committed,
        false,
        'a restored, unchanged workspace must not make a new version',
      );
      const [head, rest] = [
        restored.stdout.split('\n').slice(0, 12).join('\n'),
        restored.stdout.split('\n').slice(12),
      ];
      assert.equal(head, expectedOddTree);
      assert.ok(Number(rest[0]) < 1024, `sparse file restored dense: ${rest[0]} KiB`);
      assert.deepEqual(rest.slice(1), ['tail', 'big.bin: OK', 'hostname-deleted', 'only', '']);
    });

    it('versions: unchanged runs add none, changes add one, deletions carry over, and NAME@N runs an old one', async () => {
      const unchanged = await run(b, 'odd', 'true');
      assert.equal(unchanged.sync?.committed, false);
      const changed = await run(b, 'odd', 'rm big.bin private && echo v2 > new.txt');
      assert.equal(changed.sync?.version, 2);
      // Only the new file is uploaded: one pack (small files are packed), no chunk.
      assert.equal(changed.sync?.uploadedPacks, 1, 'only the new file is uploaded');
      assert.equal(changed.sync?.uploadedChunks, 0);
      const old = await run(a, 'odd', 'ls /workspace | sort | tr "\\n" " "', {
        version: 1,
        persist: false,
      });
      assert.match(old.stdout, /big\.bin/);
      assert.doesNotMatch(old.stdout, /new\.txt/);
      await a.sync.pull('odd', { image: 'default' });
      const latest = await run(a, 'odd', 'test -e big.bin || echo gone; cat new.txt');
      assert.equal(latest.stdout, 'gone\nv2\n');
    });

    it('two hosts committing on the same version: the second gets a conflict, nothing is overwritten', async () => {
      await run(a, 'race', 'echo base > f');
      await b.sync.pull('race', { image: 'default' });
      await run(a, 'race', 'echo from-a > f');
      await run(b, 'race', 'echo from-b > f', { persist: false });
      await assert.rejects(b.sync.push('race'), (error: unknown) => {
        assert.match(String(error), /another host synced it meanwhile/);
        // The command the hint names must exist as written (it once had a --force that did not).
        assert.match((error as MagsError).hint ?? '', /: mags workspace pull race {2}\(/);
        return true;
      });
      const versions = await a.sync.versions('race');
      assert.deepEqual(
        versions.map((version) => version.version),
        [1, 2],
      );
      const check = await run(a, 'race', 'cat f', { version: 2, persist: false });
      assert.equal(check.stdout, 'from-a\n');
    });

    it('a tampered pack or manifest is detected on restore, naming the file', async () => {
      await run(a, 'tamper', 'echo precious > data.txt');
      const manifest = await loadManifest(a.sync.store, 'tamper', 1);
      const file = manifest.entries.find((entry) => entry.path === 'workspace/data.txt');
      assert.ok(file?.type === 'file' && file.pack !== undefined, 'a small file is packed');
      const pack = manifest.packs?.[file.pack]?.hash as string;
      const { zstdCompressSync } = await import('node:zlib');
      const originalManifest = await a.sync.store.get(manifestKey('tamper', 1));
      const originalPack = await a.sync.store.get(packKey(pack));
      await a.sync.store.put(packKey(pack), zstdCompressSync(Buffer.from('forged\n')));
      const fresh = await createTestHome();
      try {
        const c = createMagsContext({ ...process.env, ...environment, MAGS_HOME: fresh.home });
        await assert.rejects(
          c.sync.pull('tamper', { image: 'default' }),
          /Cannot restore tamper@1: its pack .* does not match its hash \("workspace\/data\.txt"/,
        );
        assert.equal(
          await c.workspaces.get('tamper'),
          undefined,
          'a failed restore leaves no half workspace',
        );
        const body = await a.sync.store.get(manifestKey('tamper', 1));
        body.writeUInt8(body.readUInt8(body.length - 5) ^ 0xff, body.length - 5);
        await a.sync.store.put(manifestKey('tamper', 1), body);
        await assert.rejects(
          c.sync.pull('tamper', { image: 'default' }),
          /manifest .* is corrupted/,
        );
      } finally {
        await a.sync.store.put(manifestKey('tamper', 1), originalManifest);
        await a.sync.store.put(packKey(pack), originalPack);
        await fresh.cleanup();
      }
    });

    it('garbage collection removes only old, unreferenced chunks', async () => {
      await a.sync.store.put(chunkKey('f'.repeat(64)), Buffer.from('orphan'));
      const young = await a.sync.garbageCollect({ graceMs: 60_000 });
      assert.equal(young.deletedChunks, 0);
      const collected = await a.sync.garbageCollect({ graceMs: 0 });
      assert.ok(collected.deletedChunks >= 1);
      assert.equal(await a.sync.store.head(chunkKey('f'.repeat(64))), undefined);
      const still = await run(b, 'odd', 'cat new.txt', { version: 2, persist: false });
      assert.equal(still.stdout, 'v2\n');
    });
  });
}

describeStore('the filesystem store', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'mags-shared-store-'));
  return { MAGS_STORE_DIR: directory, MAGS_S3_BUCKET: '' };
});

describeStore('S3 (Ceph RGW)', async () => {
  const bucket = await s3TestBucket();
  if ('skip' in bucket) return bucket;
  return {
    MAGS_S3_BUCKET: bucket.bucket,
    MAGS_S3_ENDPOINT: bucket.endpoint,
    MAGS_S3_ACCESS_KEY_ID: bucket.accessKeyId,
    MAGS_S3_SECRET_ACCESS_KEY: bucket.secretAccessKey,
  };
});

describe('sync faults', { skip }, () => {
  test('an unreachable S3 fails with a clear error, leaves the workspace alone, and a later sync succeeds', async () => {
    const home = await createTestHome();
    const store = await mkdtemp(join(tmpdir(), 'mags-store-'));
    try {
      const down = createMagsContext({
        ...process.env,
        MAGS_HOME: home.home,
        MAGS_S3_BUCKET: 'b',
        MAGS_S3_ENDPOINT: 'http://127.0.0.1:9',
        MAGS_S3_ACCESS_KEY_ID: 'x',
        MAGS_S3_SECRET_ACCESS_KEY: 'y',
      });
      await assert.rejects(
        run(down, 'offline', 'echo kept > f'),
        (error: unknown) => error instanceof StoreUnavailableError,
      );
      const local = createMagsContext({
        ...process.env,
        MAGS_HOME: home.home,
        MAGS_STORE_DIR: store,
        MAGS_S3_BUCKET: '',
      });
      const stillThere = await run(local, 'offline', 'cat f', { persist: false });
      assert.equal(
        stillThere.stdout,
        '',
        'the failed pre-run restore check must not have run the command',
      );
      await run(local, 'offline', 'echo kept > f', { persist: false });
      await assert.rejects(down.sync.push('offline'), StoreUnavailableError);
      assert.equal((await local.sync.push('offline')).version, 1);
    } finally {
      await home.cleanup();
      await rm(store, { recursive: true, force: true });
    }
  });

  test('a full store fails the sync with a clear error, keeps the old version, and a later sync succeeds', async () => {
    const home = await createTestHome();
    const store = await mkdtemp(join(tmpdir(), 'mags-full-store-'));
    // A 4 MiB tmpfs: the first version fits, the second (20 MB of random data) does not.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', store]);
    try {
      const context = createMagsContext({
        ...process.env,
        MAGS_HOME: home.home,
        MAGS_STORE_DIR: store,
        MAGS_S3_BUCKET: '',
      });
      assert.equal((await run(context, 'full', 'echo small > f')).sync?.version, 1);
      await run(context, 'full', 'head -c 20000000 /dev/urandom > big', { persist: false });
      await assert.rejects(context.sync.push('full'), (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        assert.match(error.message, /is full/);
        return true;
      });
      assert.deepEqual(
        (await context.sync.versions('full')).map((version) => version.version),
        [1],
      );
      const local = await run(context, 'full', 'stat -c %s big', { persist: false });
      assert.equal(local.stdout, '20000000\n', 'the local workspace is untouched');
      execFileSync('mount', ['-o', 'remount,size=64m', store]);
      assert.equal((await context.sync.push('full')).version, 2);
    } finally {
      execFileSync('umount', [store]);
      await home.cleanup();
      await rm(store, { recursive: true, force: true });
    }
  });

  test('a sync killed at any point leaves the old or the new version, complete', async () => {
    const home = await createTestHome();
    const store = await mkdtemp(join(tmpdir(), 'mags-store-'));
    const environment = {
      ...process.env,
      MAGS_HOME: home.home,
      MAGS_STORE_DIR: store,
      MAGS_S3_BUCKET: '',
    };
    const context = createMagsContext(environment);
    try {
      await run(
        context,
        'killed',
        'for i in $(seq 1 300); do head -c 20000 /dev/urandom > f$i; done',
      );
      for (let round = 0; round < 6; round++) {
        await run(context, 'killed', `for i in $(seq 1 300); do echo ${round} >> f$i; done`, {
          persist: false,
        });
        const child = fork(
          join(import.meta.dirname, 'helpers', 'push-workspace-child.ts'),
          ['killed'],
          { env: environment, stdio: 'ignore' },
        );
        // Listened for from the start: a sync with packs can finish before the kill comes.
        const exited = new Promise((resolve) => child.on('exit', resolve));
        await new Promise((resolve) => setTimeout(resolve, 20 + round * 60));
        child.kill('SIGKILL');
        await exited;
        // The killed sync's lock is held by a `flock` process (workspace-lock.ts) that lets go
        // when it sees its parent's pipe close: a moment after the kill, not at once.
        const syncLock = join(home.home, 'workspaces', 'killed', 'sync.lock');
        await waitUntil(async () => (await processesMentioning(syncLock)).length === 0, 5000);
        const versions = await context.sync.versions('killed');
        // Whatever the store holds must restore completely and verify.
        for (const { version } of versions) {
          const manifest = await loadManifest(context.sync.store, 'killed', version);
          for (const pack of manifest.packs ?? [])
            assert.ok(
              await context.sync.store.head(packKey(pack.hash)),
              `v${version} misses a pack`,
            );
          for (const entry of manifest.entries) {
            if (entry.type !== 'file' || entry.pack !== undefined) continue;
            for (const hash of entry.chunks)
              assert.ok(
                await context.sync.store.head(chunkKey(hash)),
                `v${version} misses a chunk of ${entry.path}`,
              );
          }
        }
        // A new sync completes from wherever the killed one stopped (even after its commit).
        await context.sync.push('killed');
      }
      const finalCheck = await run(context, 'killed', 'tail -c 2 f300', { persist: false });
      assert.equal(finalCheck.stdout, '5\n');
      // Writes killed half-way leave temporary files, never objects: listing shows none of them.
      for await (const object of context.sync.store.list(''))
        assert.doesNotMatch(object.key, /\.tmp-/);
    } finally {
      await home.cleanup();
      await rm(store, { recursive: true, force: true });
    }
  });

  test('the CLI reports sync and versions', async () => {
    const home = await createTestHome();
    const store = await mkdtemp(join(tmpdir(), 'mags-store-'));
    try {
      const env = { MAGS_STORE_DIR: store, MAGS_S3_BUCKET: '' };
      const first = await runCli(home.home, ['run', '-w', 'cli', '-p', 'echo 1 > a'], { env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /synced cli as version 1/);
      assert.match(first.stderr, /^sync: (\d+)\/\1 files, /m); // the progress, not a terminal
      const again = await runCli(home.home, ['sync', 'cli'], { env });
      assert.match(again.stderr, /unchanged since version 1/);
      const versions = await runCli(home.home, ['workspace', 'versions', 'cli', '--json'], { env });
      assert.equal(JSON.parse(versions.stdout.toString())[0].version, 1);
      const deleted = await runCli(home.home, ['workspace', 'delete', 'cli'], { env });
      assert.match(deleted.stderr, /and its 1 stored versions/);
      const gone = await runCli(home.home, ['workspace', 'versions', 'cli', '--json'], { env });
      assert.deepEqual(JSON.parse(gone.stdout.toString()), []);
    } finally {
      await home.cleanup();
      await rm(store, { recursive: true, force: true });
    }
  });
});
