/**
 * The fork logic without root (issue 11 review, 1.2, 1.7, 2.1): the test context's workspaces are
 * plain directories, and a fork of one gets no disk either, so freezing, chains, merging a
 * source's own layers, pruning, the chain limit and delete-refused-with-forks run as any user.
 * What a sandbox would see of a workspace is read with the sync engine's merge of its layers
 * (overlayfs's rules: `scanWorkspaceLayers`); test/workspace-fork-chains.test.ts checks the same
 * through the kernel's overlayfs on real disks, as root.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createTestContext, type FakeTestContext } from '../../test/helpers/test-context.ts';
import { scanWorkspaceLayers } from './sync/merge-layers.ts';
import { ForkChainTooLongError, WorkspaceHasForksError } from './workspace-fork-errors.ts';
import { maxChainLength, maxOwnLayers } from './workspace-layers.ts';

describe('workspace fork (directory workspaces, any user)', () => {
  let fake: FakeTestContext;
  beforeEach(async () => {
    fake = await createTestContext();
  });
  afterEach(() => fake.cleanup());

  const store = () => fake.workspaces;
  /** Writes files into a workspace's upper layer, as a sandbox's writes land there. */
  const write = async (name: string, files: Record<string, string>) => {
    const { upperDir } = await store().ensure(name, 'default');
    for (const [path, content] of Object.entries(files)) {
      await writeFile(join(upperDir, path), content);
    }
  };
  /** Every file a sandbox of the workspace would see, with its content. */
  const view = async (name: string): Promise<Record<string, string>> => {
    const paths = await store().open(name);
    const files: Record<string, string> = {};
    for (const entry of await scanWorkspaceLayers(paths.upperDir, paths.chain)) {
      if (entry.type !== 'f') continue;
      const path = entry.path.toString();
      files[path] = await readFile(join(entry.directory, path), 'utf8');
    }
    return files;
  };
  const chainOf = async (name: string) => (await store().require(name)).lowerLayers ?? [];

  test('a fork starts as a copy without a disk; then source and fork diverge both ways', async () => {
    await write('src', { a: 'one', g: 'gone' });
    const forked = await store().fork('src', 'copy');
    assert.equal(forked.forkedFrom, 'src');
    assert.equal(forked.diskMiB, undefined);
    // The source's upper was frozen (a rename) into one layer of its own, which both build on.
    const [frozen, ...rest] = await chainOf('src');
    assert.deepEqual(rest, []);
    assert.equal(frozen?.workspace, 'src');
    assert.deepEqual(await chainOf('copy'), [frozen]);
    const source = await store().open('src');
    assert.deepEqual(await readdir(source.upperDir), []);
    assert.deepEqual(source.lowerDirs, [join(source.directory, 'layers', frozen?.layer ?? '')]);
    assert.deepEqual(await view('copy'), { a: 'one', g: 'gone' });

    await write('src', { a: 'two', s: 's' });
    await write('copy', { a: 'fork', f: 'f' });
    assert.deepEqual(await view('src'), { a: 'two', g: 'gone', s: 's' });
    assert.deepEqual(await view('copy'), { a: 'fork', g: 'gone', f: 'f' });
    // Unchanged since: a second fork freezes nothing new.
    await store().fork('copy', 'copy-2');
    await store().fork('copy', 'copy-3');
    assert.equal((await chainOf('copy-3')).length, 2);
    assert.deepEqual(await chainOf('copy-3'), await chainOf('copy-2'));
  });

  test('forks of forks: delete is refused with the forks named; deleting forks prunes layers', async () => {
    await write('base', { one: '1' });
    await store().fork('base', 'mid');
    await write('mid', { two: '2' });
    await store().fork('mid', 'leaf');
    await write('mid', { later: 'later' });
    assert.deepEqual(await view('leaf'), { one: '1', two: '2' });
    assert.equal((await chainOf('leaf')).length, 2);

    await assert.rejects(store().delete('base'), (error: unknown) => {
      assert.ok(error instanceof WorkspaceHasForksError, String(error));
      assert.deepEqual(error.forks, ['leaf', 'mid']);
      assert.match(error.message, /the forks "leaf", "mid" build on it/);
      return true;
    });
    await assert.rejects(store().delete('mid'), /the fork "leaf" builds on it/);
    assert.deepEqual(await view('leaf'), { one: '1', two: '2' });

    // mid forks once more (it changed): two frozen layers of its own, the first only leaf's.
    await store().fork('mid', 'leaf-2');
    const midLayers = join(store().paths('mid').directory, 'layers');
    assert.equal((await readdir(midLayers)).length, 2);
    await store().delete('leaf-2');
    assert.equal((await readdir(midLayers)).length, 2, 'mid itself still builds on both');
    await store().delete('leaf');
    assert.deepEqual(await view('mid'), { one: '1', two: '2', later: 'later' });
    for (const name of ['mid', 'base']) await store().delete(name);
    assert.ok(!existsSync(store().paths('base').directory));
  });

  test('forking one source 30 times, with a change between each, keeps every chain short', async () => {
    await write('app', { counter: '0', keep: 'k' });
    for (let fork = 1; fork <= 30; fork++) {
      await write('app', { counter: String(fork), [`file-${fork}`]: String(fork) });
      await store().fork('app', `app-${fork}`);
      assert.ok((await chainOf('app')).length <= maxOwnLayers, `app after fork ${fork}`);
      assert.ok((await chainOf(`app-${fork}`)).length <= maxOwnLayers, `fork ${fork}`);
    }
    await write('app', { counter: 'last' });
    const files = (upTo: number) =>
      Object.fromEntries(
        Array.from({ length: upTo }, (_, index) => [`file-${index + 1}`, String(index + 1)]),
      );
    assert.deepEqual(await view('app'), { counter: 'last', keep: 'k', ...files(30) });
    for (let fork = 1; fork <= 30; fork++) {
      // Each fork sees the source as it was when it was made, never a later change.
      assert.deepEqual(
        await view(`app-${fork}`),
        { counter: String(fork), keep: 'k', ...files(fork) },
        `fork ${fork}`,
      );
    }
    // Deleting every fork leaves the source one merged layer at most and its newest own ones.
    for (let fork = 1; fork <= 30; fork++) await store().delete(`app-${fork}`);
    await store().pruneLayers('app');
    const layers = await readdir(join(store().paths('app').directory, 'layers'));
    assert.equal(layers.length, (await chainOf('app')).length);
    assert.deepEqual(await view('app'), { counter: 'last', keep: 'k', ...files(30) });
  });

  test('a chain of forks of forks at the limit: refused with the way to flatten, which works', async () => {
    await write('g0', { level: '0' });
    for (let level = 1; level <= maxChainLength; level++) {
      await store().fork(`g${level - 1}`, `g${level}`);
      await write(`g${level}`, { level: String(level), [`at-${level}`]: 'x' });
    }
    const top = `g${maxChainLength}`;
    assert.equal((await chainOf(top)).length, maxChainLength);
    const before = await store().require(top);
    // A fork of it would freeze its change as a 25th layer: refused, and nothing moved.
    const refused = (name: string) => (error: unknown) => {
      assert.ok(error instanceof ForkChainTooLongError, String(error));
      assert.equal(error.code, 'fork_chain_too_long');
      assert.equal(error.statusCode, 409);
      assert.equal(
        error.message,
        `A fork of workspace "${name}" would sit on 25 frozen layers (a chain of forks of forks), more than a sandbox can mount (24).`,
      );
      assert.match(error.hint ?? '', new RegExp(`mags sync ${name}\\b`));
      assert.match(error.hint ?? '', new RegExp(`mags workspace delete ${name} --local-only`));
      assert.match(error.hint ?? '', new RegExp(`mags workspace pull ${name}\\b`));
      return true;
    };
    await assert.rejects(store().fork(top, 'too-deep'), refused(top));
    assert.deepEqual(await store().require(top), before);
    assert.equal(await store().get('too-deep'), undefined);
    assert.equal((await view(top)).level, String(maxChainLength));

    // One level down, the source's own layers merge to make room: two of its own become one.
    const below = `g${maxChainLength - 1}`;
    await store().fork(below, 'side');
    await write(below, { level: 'changed' });
    await store().fork(below, 'side-2');
    assert.equal((await chainOf('side-2')).length, maxChainLength);
    assert.equal((await view('side-2')).level, 'changed');
    assert.equal((await view('side')).level, String(maxChainLength - 1));

    // Unchanged, side-2 forks without a new layer; changed, it cannot (none of the 24 is its own).
    await store().fork('side-2', 'side-3');
    assert.equal((await chainOf('side-3')).length, maxChainLength);
    await write('side-2', { level: 'changed again' });
    await assert.rejects(store().fork('side-2', 'too-deep'), refused('side-2'));

    // Following the hint: synced, deleted locally, pulled back as one layer, then forked.
    const seen = await view(top);
    await fake.context.sync.push(top);
    await store().delete(top);
    await fake.context.sync.pull(top, { image: 'default' });
    assert.deepEqual(await chainOf(top), []);
    assert.deepEqual(await view(top), seen);
    await store().fork(top, 'flat-fork');
    assert.deepEqual(await view('flat-fork'), seen);
  });
});
