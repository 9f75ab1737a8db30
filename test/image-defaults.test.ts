/**
 * What a new user trips on first, in the real base image through the real CLI: `git commit`
 * works with a default identity that their own settings override, and npm prints no notices.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { imageDefaultsLayerPath } from '../src/images/image-defaults.ts';
import { createShiftedIdMapping } from '../src/runtimes/namespace/id-mapping.ts';
import { WorkspaceStore } from '../src/workspaces/workspace-store.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping image default tests: ${skip}\n`);

const commitAndShow =
  'cd /tmp && git init -q repo && cd repo && git commit -q --allow-empty -m x && git log -1 --format="%an <%ae> / %cn <%ce>"';

describe('image defaults (CLI, namespace runtime)', { skip }, () => {
  let testHome: TestHome;
  before(async () => {
    testHome = await createTestHome();
  });
  after(() => testHome.cleanup());

  test('git commit works in a fresh sandbox, as mags <mags@localhost>', async () => {
    const result = await runCli(testHome.home, ['run', commitAndShow]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), 'mags <mags@localhost> / mags <mags@localhost>\n');
  });

  test('--env GIT_AUTHOR_NAME wins over the default', async () => {
    const result = await runCli(testHome.home, [
      'run',
      '--env',
      'GIT_AUTHOR_NAME=Ada',
      commitAndShow,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), 'Ada <mags@localhost> / mags <mags@localhost>\n');
  });

  test("the user's own git config --global wins over the default", async () => {
    const result = await runCli(testHome.home, [
      'run',
      `git config --global user.name Bea && git config --global user.email bea@example.com && ${commitAndShow}`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), 'Bea <bea@example.com> / Bea <bea@example.com>\n');
  });

  test("the host's MAGS_GIT_NAME/MAGS_GIT_EMAIL win over the default, a run's --env over them", async () => {
    const env = { MAGS_GIT_NAME: 'CI Bot', MAGS_GIT_EMAIL: 'ci@example.com' };
    const host = await runCli(testHome.home, ['run', commitAndShow], { env });
    assert.equal(host.code, 0, host.stderr);
    assert.equal(host.stdout.toString(), 'CI Bot <ci@example.com> / CI Bot <ci@example.com>\n');
    const run = await runCli(
      testHome.home,
      ['run', '--env', 'GIT_AUTHOR_NAME=Ada', commitAndShow],
      { env },
    );
    assert.equal(run.stdout.toString(), 'Ada <ci@example.com> / CI Bot <ci@example.com>\n');
  });

  test("npm's global config turns off the update and funding notices", async () => {
    const result = await runCli(testHome.home, [
      'run',
      'npm config get globalconfig; npm config get update-notifier; npm config get fund; npm --version',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const [globalConfig, updateNotifier, fund, version] = result.stdout
      .toString()
      .trim()
      .split('\n');
    assert.equal(globalConfig, '/usr/local/etc/npmrc');
    assert.equal(updateNotifier, 'false');
    assert.equal(fund, 'false');
    assert.match(version ?? '', /^\d+\.\d+\.\d+$/);
    // Nothing but the answers: no notice on either stream.
    assert.doesNotMatch(result.stderr, /npm notice|update available|looking for funding/i);
  });

  test("a workspace's own /etc/gitconfig wins; its data holds no default, the image is untouched", async () => {
    const set = await runCli(testHome.home, [
      'run',
      '-w',
      'own-identity',
      'git config --system user.name Cy && git config --system user.email cy@example.com',
    ]);
    assert.equal(set.code, 0, set.stderr);
    const used = await runCli(testHome.home, ['run', '-w', 'own-identity', commitAndShow]);
    assert.equal(used.code, 0, used.stderr);
    assert.equal(used.stdout.toString(), 'Cy <cy@example.com> / Cy <cy@example.com>\n');
    // Only what the sandbox wrote is the workspace's (what sync, fork and merge carry): its own
    // gitconfig, copied up and changed; npm's config it never wrote stays in the defaults layer.
    const store = new WorkspaceStore({ home: testHome.home, idMapping: createShiftedIdMapping() });
    const { upperDir } = await store.open('own-identity');
    assert.match(await readFile(join(upperDir, 'etc/gitconfig'), 'utf8'), /name = Cy/);
    assert.equal(existsSync(join(upperDir, 'usr/local/etc/npmrc')), false);
    // The image's rootfs is never written to; the defaults live in their own layer.
    const images = join(testHome.home, 'images');
    assert.equal(existsSync(join(images, 'default/rootfs/etc/gitconfig')), false);
    assert.equal(existsSync(join(images, 'default/rootfs/usr/local/etc/npmrc')), false);
    const layer = imageDefaultsLayerPath(images, createShiftedIdMapping().uidBase);
    assert.match(await readFile(join(layer, 'etc/gitconfig'), 'utf8'), /name = mags/);
  });

  test('a workspace that never wrote /etc has none of the defaults in its data', async () => {
    const result = await runCli(testHome.home, [
      'run',
      '-w',
      'plain',
      `echo hi > /workspace/a && ${commitAndShow}`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), 'mags <mags@localhost> / mags <mags@localhost>\n');
    const store = new WorkspaceStore({ home: testHome.home, idMapping: createShiftedIdMapping() });
    const { upperDir } = await store.open('plain');
    assert.equal(existsSync(join(upperDir, 'etc/gitconfig')), false);
    assert.equal(existsSync(join(upperDir, 'usr/local/etc')), false);
  });
});
