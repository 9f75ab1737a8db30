/**
 * `mags project` against a real `mags server` process on the namespace runtime: create from a
 * fixture repository, list and show (readable and --json), another owner's project is not found.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServerProcess, stopServerProcess } from './helpers/server-process.ts';
import { createTestHome, runCli, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping project CLI tests: ${skip}\n`);

describe('mags project through mags server', { skip }, () => {
  let testHome: TestHome;
  let server: Awaited<ReturnType<typeof startServerProcess>>;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  let repo: string;
  before(async () => {
    testHome = await createTestHome();
    const { home } = testHome;
    // Owners may import host paths under the test's home only.
    server = await startServerProcess(
      {
        ...process.env,
        MAGS_HOME: home,
        MAGS_DISK: '128M',
        MAGS_PROJECT_ROOTS: `/nonexistent:${home}`,
      },
      ['--pool-size', '0'],
    );
    const env = async (owner: string) => {
      const created = await runCli(home, ['token', 'create', '--owner', owner]);
      assert.equal(created.code, 0, created.stderr);
      return {
        MAGS_URL: server.url,
        MAGS_API_TOKEN: created.stdout.toString().trim(),
        XDG_CONFIG_HOME: join(home, 'config'),
      };
    };
    alice = await env('alice');
    bob = await env('bob');
    repo = join(home, 'fixture');
    await mkdir(repo);
    execFileSync('git', ['-C', repo, 'init', '-q', '-b', 'main']);
    await writeFile(join(repo, 'package.json'), '{"scripts":{"test":"node --test"}}\n');
    execFileSync('git', ['-C', repo, 'add', '.']);
    execFileSync('git', [
      '-C',
      repo,
      '-c',
      'user.name=T',
      '-c',
      'user.email=t@e.com',
      'commit',
      '-qm',
      'first',
    ]);
  });
  after(async () => {
    await stopServerProcess(server?.child);
    await testHome?.cleanup();
  });

  test('create, list and show round-trip; another owner does not see it', async () => {
    const { home } = testHome;
    const created = await runCli(
      home,
      [
        'project',
        'create',
        'web',
        '--repo',
        repo,
        '--setup',
        'touch .set-up',
        '--test',
        'npm test',
        '--json',
      ],
      { env: alice },
    );
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stderr, '', 'with --json, no waiting line');
    const project = JSON.parse(created.stdout.toString()) as Record<string, unknown>;
    const head = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
    assert.deepEqual([project.name, project.status, project.commit], ['web', 'ready', head]);
    const list = await runCli(home, ['project', 'list'], { env: alice });
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout.toString(),
      /^NAME\s+STATUS\s+COMMIT\s+REPOSITORY\nweb\s+ready\s+\w{12}\s+\//,
    );
    const show = await runCli(home, ['project', 'show', 'web'], { env: alice });
    assert.match(show.stdout.toString(), /^test:\s+npm test$/m);
    assert.match(show.stdout.toString(), /^workspace:\s+project\.web$/m);
    const shownJson = await runCli(home, ['project', 'show', 'web', '--json'], { env: alice });
    assert.deepEqual(JSON.parse(shownJson.stdout.toString()), project);
    const hidden = await runCli(home, ['project', 'show', 'web'], { env: bob });
    assert.equal(hidden.code === 0, false);
    assert.match(hidden.stderr, /Project "web" does not exist/);
    const bobs = await runCli(home, ['project', 'list', '--json'], { env: bob });
    assert.deepEqual(JSON.parse(bobs.stdout.toString()), { projects: [] });
    const refreshed = await runCli(home, ['project', 'refresh', 'web'], { env: alice });
    assert.equal(refreshed.code, 0, refreshed.stderr);
    // Not a terminal: one line at once (and one every 30 s while it waits).
    assert.match(refreshed.stderr, /^mags: refreshing project web and running its setup\.\.\.$/m);
    // Nothing runs on update: the new setup waits for the next refresh, and it says so.
    const updated = await runCli(home, ['project', 'update', 'web', '--setup', 'exit 3'], {
      env: alice,
    });
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(
      updated.stderr,
      /^mags: the new setup takes effect at the next refresh: mags project refresh web$/m,
    );
    const failed = await runCli(home, ['project', 'refresh', 'web'], { env: alice });
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stdout.toString(), /^reason:\s+setup exited with code 3/m);
    assert.match(
      failed.stderr,
      /^mags: project web failed; fix the setup \(in the repository, or mags project update web --setup CMD\) and run mags project refresh web$/m,
    );
    const deleted = await runCli(home, ['project', 'delete', 'web'], { env: alice });
    assert.equal(deleted.code, 0, deleted.stderr);
    const after = await runCli(home, ['project', 'list', '--json'], { env: alice });
    assert.deepEqual(JSON.parse(after.stdout.toString()), { projects: [] });
  });

  test("a path outside the server's roots is refused; a relative one is not sent to a remote server", async () => {
    const { home } = testHome;
    const outside = await runCli(home, ['project', 'create', 'etc', '--repo', '/etc'], {
      env: bob,
    });
    assert.equal(outside.code === 0, false);
    assert.match(outside.stderr, /\/etc is not under a directory this server imports from/);
    assert.match(outside.stderr, /--net/);
    const relative = await runCli(home, ['project', 'create', 'rel', '--repo', 'fixture'], {
      env: bob,
    });
    assert.equal(relative.code, 2, relative.stderr);
    assert.match(relative.stderr, /absolute path there, or the repository's URL with --net/);
    const bobs = await runCli(home, ['project', 'list', '--json'], { env: bob });
    assert.deepEqual(JSON.parse(bobs.stdout.toString()), { projects: [] });
  });
});
