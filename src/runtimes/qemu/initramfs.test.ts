/**
 * The initramfs is named by the hash of its inputs, and that hash is remembered per process by
 * each input's path, inode, size and mtime: a start with unchanged files reads none of them.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ensureInitramfs, guestModuleOrder } from './initramfs.ts';

const root = await mkdtemp(join(tmpdir(), 'mags-test-initramfs-'));
after(() => rm(root, { recursive: true, force: true }));

async function inputs(name: string) {
  const directory = join(root, name);
  const modulesDirectory = join(directory, 'modules');
  await mkdir(modulesDirectory, { recursive: true });
  for (const module of guestModuleOrder) {
    await writeFile(join(modulesDirectory, `${module}.ko`), `module ${module}`);
  }
  const initPath = join(directory, 'init');
  const agentPath = join(directory, 'agent');
  await writeFile(initPath, 'init v1');
  await writeFile(agentPath, 'agent v1');
  return { qemuDirectory: directory, modulesDirectory, initPath, agentPath };
}

test('unchanged inputs give the same archive; a rebuilt agent (new mtime) a new one', async () => {
  const options = await inputs('rebuilt');
  const first = await ensureInitramfs(options);
  assert.equal(await ensureInitramfs(options), first);
  await writeFile(options.agentPath, 'agent v2');
  const second = await ensureInitramfs(options);
  assert.notEqual(second, first);
  assert.ok((await stat(second)).size > 0);
});

test('the digest is remembered: same path, size and mtime are not read again', async () => {
  const options = await inputs('remembered');
  // A whole second, which utimes sets exactly.
  const mtime = new Date('2026-01-01T00:00:00Z');
  await utimes(options.agentPath, mtime, mtime);
  const first = await ensureInitramfs(options);
  // Same size, same inode, mtime put back: only a re-read could tell this file changed.
  await writeFile(options.agentPath, 'agent v9');
  await utimes(options.agentPath, mtime, mtime);
  assert.equal(await ensureInitramfs(options), first);
});

test('a remembered archive that was deleted is written again', async () => {
  const options = await inputs('deleted');
  const first = await ensureInitramfs(options);
  await rm(first);
  assert.equal(await ensureInitramfs(options), first);
  assert.ok((await stat(first)).size > 0);
});
