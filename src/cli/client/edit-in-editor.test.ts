/**
 * editInEditor: with no VISUAL/EDITOR and no terminal it refuses (vi is not started, no file is
 * made); a chosen editor (a shell command here) is run without a terminal and its save returned.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { editInEditor } from './edit-in-editor.ts';

const editDirectories = async () =>
  (await readdir(tmpdir())).filter((name) => name.startsWith('mags-edit-')).sort();

test('no VISUAL or EDITOR and stdin not a terminal: refused with "set EDITOR, or use --file", nothing made', async () => {
  const before = await editDirectories();
  await assert.rejects(
    editInEditor('summary: x\n', { name: 'p.yaml', environment: {}, interactive: false }),
    (error: Error & { code?: string; hint?: string }) => {
      assert.equal(error.code, 'editor_missing');
      assert.match(error.hint ?? '', /Set EDITOR.*--file/);
      return true;
    },
  );
  assert.deepEqual(await editDirectories(), before);
});

test('a chosen editor runs without a terminal; what it saved is returned', async () => {
  const file = await editInEditor('before\n', {
    name: 'p.yaml',
    environment: { EDITOR: 'echo after >', PATH: process.env.PATH },
    interactive: false,
  });
  assert.equal(file.text, 'after\n');
  await file.remove();
});
