/**
 * Paths are bytes on Linux: names and symlink targets that are not UTF-8 must survive sync and
 * restore byte for byte, on every store, through the real CLI (`mags run -w`, `mags sync`,
 * `mags workspace pull` on a second MAGS_HOME playing a second host).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { nativeBinaryPath } from '../src/config/package-paths.ts';
import { scanLayer } from '../src/workspaces/sync/layer-scan.ts';
import { s3StoreEnvironment } from './helpers/s3-store-environment.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping byte-name sync tests: ${skip}\n`);

/** Every class of byte sequence that is not UTF-8, plus valid non-ASCII and shell-special text. */
const byteClasses: Array<[label: string, bytes: Buffer]> = [
  ['continuation-80', Buffer.from([0x80])],
  ['continuation-bf', Buffer.from([0xbf])],
  ['continuations', Buffer.from([0x80, 0x9f, 0xa0, 0xbf])],
  ['c0', Buffer.from([0xc0, 0xaf])],
  ['c1', Buffer.from([0xc1, 0xbf])],
  ['f5', Buffer.from([0xf5, 0x80, 0x80, 0x80])],
  ['f8-fd', Buffer.from([0xf8, 0xfb, 0xfc, 0xfd])],
  ['fe-ff', Buffer.from([0xfe, 0xff])],
  ['truncated-2', Buffer.from([0xc3])],
  ['truncated-3', Buffer.from([0xe2, 0x82])],
  ['truncated-4', Buffer.from([0xf0, 0x9f, 0x98])],
  ['overlong-2', Buffer.from([0xc0, 0x80])],
  ['overlong-3', Buffer.from([0xe0, 0x80, 0xaf])],
  ['overlong-4', Buffer.from([0xf0, 0x80, 0x80, 0xaf])],
  ['surrogate-high', Buffer.from([0xed, 0xa0, 0x80])],
  ['surrogate-low', Buffer.from([0xed, 0xbf, 0xbf])],
  ['above-u10ffff', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
  ['valid', Buffer.from('ünïcødé-日本-😀')],
  ['specials', Buffer.from('\n\\"\'\t $`*?')],
];

/** The bytes in the middle and at the start: `$(...)` would strip a trailing newline, not these. */
const nameOf = (prefix: string, label: string, bytes: Buffer) =>
  Buffer.concat([Buffer.from(prefix), bytes, Buffer.from(`-${label}-`), bytes, Buffer.from('.x')]);

/** `printf -v VAR 'FORMAT'` sets VAR to exactly these bytes (every byte as an octal escape). */
const octal = (bytes: Buffer) => [...bytes].map((byte) => `\\${byte.toString(8)}`).join('');

/** Files, directories, hard links, symlink names and symlink targets made with every class. */
const writeTree = [
  'set -e',
  'cd /workspace',
  ...byteClasses.flatMap(([label, bytes]) => [
    `printf -v F '${octal(nameOf('f-', label, bytes))}'`,
    `printf -v D '${octal(nameOf('d-', label, bytes))}'`,
    `printf -v L '${octal(nameOf('l-', label, bytes))}'`,
    `printf -v T '${octal(nameOf('../t-', label, bytes))}'`,
    `printf '%s' '${label}' > "$F"`,
    `ln "$F" "$F.hard"`,
    `mkdir "$D" && printf inner > "$D/$F"`,
    `ln -s "$T" "$L"`,
  ]),
].join('\n');

/** Every entry of a layer, read with Buffer paths: what a byte-exact restore must reproduce. */
async function describeLayer(root: string): Promise<string[]> {
  const lines: string[] = [];
  const opaque = new Set(
    (await scanLayer(root))
      .filter((entry) => entry.opaque)
      .map((entry) => entry.path.toString('hex')),
  );
  const walk = async (relative: Buffer) => {
    const directory = Buffer.concat([Buffer.from(root), relative]);
    const names = await readdir(directory, { encoding: 'buffer' });
    for (const name of names.sort(Buffer.compare)) {
      const path = Buffer.concat([relative, Buffer.from('/'), name]);
      const full = Buffer.concat([Buffer.from(root), path]);
      const stats = await lstat(full);
      const base = `${path.toString('hex')} ${(stats.mode & 0o170000).toString(8)} ${(stats.mode & 0o7777).toString(8)} ${stats.uid}:${stats.gid} nlink=${stats.nlink}`;
      if (stats.isDirectory()) {
        lines.push(`${base} dir opaque=${opaque.has(path.subarray(1).toString('hex'))}`);
        await walk(path);
      } else if (stats.isSymbolicLink()) {
        lines.push(`${base} -> ${(await readlink(full, { encoding: 'buffer' })).toString('hex')}`);
      } else if (stats.isFile()) {
        const digest = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
        lines.push(`${base} ${stats.size} ${digest}`);
      } else lines.push(`${base} rdev=${stats.rdev}`);
    }
  };
  await walk(Buffer.alloc(0));
  return lines;
}

/** A whiteout and an opaque directory with odd names, made as overlayfs makes them (mags-layer). */
function addMarkers(upper: string): void {
  const records = byteClasses.flatMap(([label, bytes]) => [
    Buffer.from('w\0'),
    Buffer.concat([Buffer.from(`${upper}/workspace/`), nameOf('w-', label, bytes)]),
    Buffer.from('\0o\0'),
    Buffer.concat([Buffer.from(`${upper}/workspace/`), nameOf('d-', label, bytes)]),
    Buffer.from('\0'),
  ]);
  const result = spawnSync(nativeBinaryPath('mags-layer'), ['apply'], {
    input: Buffer.concat(records),
  });
  assert.equal(result.status, 0, result.stderr.toString());
}

function describeStore(
  label: string,
  /** The store both hosts share; `scratch` is a directory removed after the tests. */
  storeEnvironment: (scratch: string) => Promise<Record<string, string> | { skip: string }>,
) {
  describe(`names that are not UTF-8 on ${label}`, { skip }, () => {
    let hostA: TestHome;
    let hostB: TestHome;
    let environment: Record<string, string> | { skip: string };
    before(async () => {
      hostA = await createTestHome();
      hostB = await createTestHome();
      environment = await storeEnvironment(hostA.home);
    });
    after(async () => {
      await hostA?.cleanup();
      await hostB?.cleanup();
    });

    test('the issue repro: a file named bad\\377name syncs and restores', async (t) => {
      if ('skip' in environment) return t.skip(environment.skip);
      const env = environment;
      const write = await runCli(
        hostA.home,
        ['run', '-w', 'u8', "printf x > $(printf 'bad\\377name')"],
        { env },
      );
      assert.equal(write.code, 0, write.stderr);
      const sync = await runCli(hostA.home, ['sync', 'u8'], { env });
      assert.equal(sync.code, 0, sync.stderr);
      assert.match(sync.stderr, /synced u8 as version 1/);
      const read = await runCli(
        hostB.home,
        ['run', '-w', 'u8', '-p', 'cat /workspace/bad*name; ls /workspace'],
        { env },
      );
      assert.equal(read.code, 0, read.stderr);
      assert.deepEqual(read.stdout, Buffer.from('xbad\xffname\n', 'latin1'));
    });

    test('files, directories, hard links, symlinks, targets, whiteouts and opaque directories round-trip byte for byte', async (t) => {
      if ('skip' in environment) return t.skip(environment.skip);
      const env = environment;
      const write = await runCli(
        hostA.home,
        ['run', '-w', 'names', '--', 'bash', '-c', writeTree],
        { env },
      );
      assert.equal(write.code, 0, write.stderr);
      const upperA = join(hostA.home, 'workspaces', 'names', 'layer', 'upper');
      addMarkers(upperA);
      const original = await describeLayer(upperA);
      // Not vacuous: every class made a file, a hard link, a directory (and its file), a symlink
      // and a whiteout, with the raw bytes in their names.
      assert.equal(original.length, 1 + byteClasses.length * 6, original.join('\n'));
      for (const [, bytes] of byteClasses)
        assert.ok(original.some((line) => line.includes(bytes.toString('hex'))));

      const sync = await runCli(hostA.home, ['sync', 'names'], { env });
      assert.equal(sync.code, 0, sync.stderr);
      const pull = await runCli(hostB.home, ['workspace', 'pull', 'names'], { env });
      assert.equal(pull.code, 0, pull.stderr);
      const restored = await describeLayer(
        join(hostB.home, 'workspaces', 'names', 'layer', 'upper'),
      );
      assert.deepEqual(restored, original);

      // The sandbox sees the same names and targets, and the restore syncs as unchanged.
      const list = "cd /workspace && find . -mindepth 1 -printf '%y %p -> %l\\0' | sort -z";
      const seenA = await runCli(hostA.home, ['run', '-w', 'names', '--', 'bash', '-c', list], {
        env,
      });
      const seenB = await runCli(hostB.home, ['run', '-w', 'names', '--', 'bash', '-c', list], {
        env,
      });
      assert.equal(seenB.code, 0, seenB.stderr);
      assert.deepEqual(seenB.stdout, seenA.stdout);
      const again = await runCli(hostB.home, ['sync', 'names'], { env });
      assert.match(again.stderr, /unchanged since version 1/);
      const workspaces = await runCli(hostB.home, ['workspace', 'list', '--json'], { env });
      assert.equal(workspaces.code, 0, workspaces.stderr);
      // Listing reads the layer (it failed with ENOENT on such names); with a disk, the size is
      // the disk's use, so only that it was measured is checked here.
      const [listed] = JSON.parse(workspaces.stdout.toString()) as Array<{ sizeBytes: number }>;
      assert.ok((listed?.sizeBytes ?? 0) > 0);
    });
  });
}

describeStore('the filesystem store', async (scratch) => ({
  MAGS_STORE_DIR: join(scratch, 'shared-store'),
  MAGS_S3_BUCKET: '',
}));

describeStore('S3 (Ceph RGW)', s3StoreEnvironment);
