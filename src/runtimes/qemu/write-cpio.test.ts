/**
 * The initramfs archive against the real cpio(1): what the kernel would unpack is what was
 * written (names, modes, contents, the console device), and ensureInitramfs's cache rules.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ensureInitramfs, guestModuleOrder } from './initramfs.ts';
import { writeNewcCpio } from './write-cpio.ts';

const cpioMissing =
  spawnSync('cpio', ['--version']).status === 0
    ? undefined
    : 'cpio is not installed (apt-get install cpio)';
const root = await mkdtemp(join(tmpdir(), 'mags-test-cpio-'));
after(() => rm(root, { recursive: true, force: true }));

function listVerbose(archive: Buffer): string {
  return execFileSync('cpio', ['-tv', '--quiet'], { input: archive }).toString();
}

test('a newc archive round-trips through cpio -i: directories, files, modes, odd sizes', async (t) => {
  if (cpioMissing) return t.skip(cpioMissing);
  const files = [1, 2, 3, 4, 5, 4097].map((size, index) => ({
    path: `dir/file-${index}`,
    data: Buffer.from(Array.from({ length: size }, (_, byte) => (byte * 7 + index) % 256)),
  }));
  const archive = writeNewcCpio([
    { type: 'directory', path: 'dir', mode: 0o750 },
    { type: 'directory', path: '/empty', mode: 0o755 },
    ...files.map((file, index) => ({
      type: 'file' as const,
      path: file.path,
      mode: index === 0 ? 0o755 : 0o644,
      data: file.data,
    })),
  ]);
  const listing = execFileSync('cpio', ['-t', '--quiet'], { input: archive }).toString();
  assert.deepEqual(listing.trim().split('\n'), ['dir', 'empty', ...files.map((file) => file.path)]);
  const out = join(root, 'round-trip');
  await mkdir(out);
  execFileSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], {
    input: archive,
    cwd: out,
  });
  for (const file of files) assert.deepEqual(await readFile(join(out, file.path)), file.data);
  assert.equal((await stat(join(out, 'dir'))).mode & 0o7777, 0o750);
  assert.equal((await stat(join(out, 'dir/file-0'))).mode & 0o7777, 0o755);
  assert.equal((await stat(join(out, 'dir/file-1'))).mode & 0o7777, 0o644);
  assert.ok((await stat(join(out, 'empty'))).isDirectory());
});

test('a character device entry carries its major and minor', (t) => {
  if (cpioMissing) return t.skip(cpioMissing);
  const archive = writeNewcCpio([
    { type: 'character-device', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
  ]);
  assert.match(listVerbose(archive), /^crw------- .* 5,\s*1 .*dev\/console$/m);
});

test('ensureInitramfs: the layout the guest init expects, cached by content, a new archive when the agent changes', async (t) => {
  if (cpioMissing) return t.skip(cpioMissing);
  const qemuDirectory = join(root, 'qemu');
  const modulesDirectory = join(root, 'modules');
  await mkdir(qemuDirectory);
  await mkdir(modulesDirectory);
  for (const name of guestModuleOrder) {
    await writeFile(join(modulesDirectory, `${name}.ko`), `module ${name}`);
  }
  const initPath = join(root, 'init');
  const agentPath = join(root, 'agent');
  await writeFile(initPath, 'init v1');
  await writeFile(agentPath, 'agent v1');
  const first = await ensureInitramfs({ qemuDirectory, modulesDirectory, initPath, agentPath });
  assert.match(first, /\/initramfs-[0-9a-f]{16}\.cpio\.gz$/);
  const archive = gunzipSync(await readFile(first));
  const listing = listVerbose(archive);
  assert.match(listing, /^-rwxr-xr-x .* init$/m);
  assert.match(listing, /^-rwxr-xr-x .* mags-agent$/m);
  assert.match(listing, /^crw------- .* dev\/console$/m);
  for (const directory of ['dev', 'proc', 'sys', 'newroot', 'modules']) {
    assert.match(listing, new RegExp(`^drwxr-xr-x .* ${directory}$`, 'm'));
  }
  const out = join(root, 'initramfs');
  await mkdir(out);
  execFileSync('cpio', ['-id', '--quiet', '--no-absolute-filenames', 'modules/*', 'init'], {
    input: archive,
    cwd: out,
  });
  assert.equal(await readFile(join(out, 'init'), 'utf8'), 'init v1');
  assert.equal(await readFile(join(out, 'modules/9pnet_virtio.ko'), 'utf8'), 'module 9pnet_virtio');
  assert.deepEqual((await readFile(join(out, 'modules/order'), 'utf8')).trim().split('\n'), [
    ...guestModuleOrder,
  ]);

  // The same inputs: the same file, not rewritten.
  const before = (await stat(first)).ino;
  assert.equal(
    await ensureInitramfs({ qemuDirectory, modulesDirectory, initPath, agentPath }),
    first,
  );
  assert.equal((await stat(first)).ino, before);

  // A rebuilt agent: a new archive; the old one stays while it may still be in use (used within
  // the hour), and goes once it has not been used for longer.
  await writeFile(agentPath, 'agent v2');
  const second = await ensureInitramfs({ qemuDirectory, modulesDirectory, initPath, agentPath });
  assert.notEqual(second, first);
  assert.deepEqual((await readdir(qemuDirectory)).length, 2);
  const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
  await utimes(first, twoHoursAgo, twoHoursAgo);
  await writeFile(agentPath, 'agent v3');
  const third = await ensureInitramfs({ qemuDirectory, modulesDirectory, initPath, agentPath });
  assert.deepEqual(
    (await readdir(qemuDirectory)).sort(),
    [second, third].map((path) => path.slice(qemuDirectory.length + 1)).sort(),
  );
});

test('ensureInitramfs names a missing init binary and how to build it', async () => {
  await assert.rejects(
    ensureInitramfs({
      qemuDirectory: root,
      modulesDirectory: root,
      initPath: join(root, 'no-such-init'),
      agentPath: join(root, 'no-such-agent'),
    }),
    (error: Error & { hint?: string }) =>
      /guest init .*no-such-init is not built/.test(error.message) &&
      /npm run build/.test(error.hint ?? ''),
  );
});
