/**
 * Projects on the real namespace runtime (the image has git and node): a fixture repository made
 * here (a checkout and a bare clone of it), imported, set up, refreshed, forked for a ticket,
 * given a branch back, and deleted. The host repository is only read (bundled); every git
 * command runs inside a sandbox on the project workspace.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createMagsContext, type MagsContext } from '../src/context/mags-context.ts';
import { bundleHostRepository } from '../src/projects/host-repository.ts';
import {
  ApprovedCommitMismatchError,
  ProjectConfigError,
  ProjectRepositoryError,
} from '../src/projects/project-errors.ts';
import { ProjectManager } from '../src/projects/project-manager.ts';
import { withWorkspaceSession } from '../src/projects/workspace-session.ts';
import { SandboxManager } from '../src/sandboxes/sandbox-manager.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository, TicketRecord } from '../src/state/state-repository.ts';
import { ownerWorkspaceName } from '../src/workspaces/owner-workspace.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping project tests: ${skip}\n`);

const setup = 'mkdir -p node_modules && date > node_modules/.installed';

describe('projects (namespace runtime)', { skip }, () => {
  let testHome: TestHome;
  let context: MagsContext;
  let repository: StateRepository;
  let projects: ProjectManager;
  let sandboxes: SandboxManager;
  let fixtures: string;
  let checkout: string;
  let bare: string;
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8' }).trim();
  const commitAll = (cwd: string, message: string) =>
    git(cwd, '-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qam', message);
  /** Runs a shell command in a sandbox on one of alice's workspaces. */
  const inWorkspace = (workspace: string, command: string) =>
    withWorkspaceSession(
      context,
      { workspace: ownerWorkspaceName('alice', workspace) },
      (sandbox) => sandbox.exec(command, { timeoutMs: 30_000 }),
    );

  before(async () => {
    testHome = await createTestHome();
    context = createMagsContext({ ...process.env, MAGS_HOME: testHome.home, MAGS_DISK: '128M' });
    repository = createSqliteStateRepository(join(testHome.home, 'state.db'));
    sandboxes = new SandboxManager({ context, repository, sleepAfterMs: 0 });
    projects = new ProjectManager({
      context,
      repository,
      sandboxes,
      roots: [testHome.home],
    });
    fixtures = await mkdtemp(join(testHome.home, 'fixtures-'));
    checkout = join(fixtures, 'app');
    await mkdir(checkout);
    git(checkout, 'init', '-q', '-b', 'main');
    await writeFile(
      join(checkout, 'package.json'),
      JSON.stringify({ name: 'app', scripts: { test: 'node --test' } }),
    );
    await writeFile(
      join(checkout, 'sum.test.js'),
      "require('node:test')('sum', () => require('node:assert').equal(1 + 1, 2));\n",
    );
    git(checkout, 'add', '.');
    commitAll(checkout, 'first');
    git(checkout, 'branch', 'feature');
    bare = join(fixtures, 'app.git');
    execFileSync('git', ['clone', '-q', '--bare', checkout, bare]);
  });
  after(async () => {
    await sandboxes?.shutdown();
    await repository?.close();
    await testHome?.cleanup();
  });

  test('a checkout is imported at its HEAD and its setup result stays in the workspace', async () => {
    const output: string[] = [];
    const project = await projects.create(
      'alice',
      { name: 'app', repo: checkout, setup, test: 'npm test' },
      { onOutput: (text) => output.push(text) },
    );
    assert.equal(project.status, 'ready', project.reason ?? '');
    assert.equal(project.commit, git(checkout, 'rev-parse', 'HEAD'));
    assert.equal(project.workspace, 'project.app');
    assert.deepEqual([project.setup, project.test], [setup, 'npm test']);
    assert.match(output.join(''), /\$ mkdir -p node_modules/);
    const inside = await inWorkspace(
      'project.app',
      'cat node_modules/.installed >/dev/null && git rev-parse HEAD && git status --porcelain --untracked-files=no && ls /tmp',
    );
    assert.equal(inside.exitCode, 0, inside.output);
    assert.equal(inside.output.split('\n')[0], project.commit);
    assert.doesNotMatch(inside.output, /mags-import/, 'the bundle is removed');
    assert.deepEqual(
      (await projects.list('alice')).map((each) => each.name),
      ['app'],
    );
    assert.equal((await projects.list('bob')).length, 0);
  });

  test('a bare repository is imported, at the ref asked for', async () => {
    git(checkout, 'checkout', '-q', 'feature');
    await writeFile(join(checkout, 'feature.txt'), 'feature\n');
    git(checkout, 'add', 'feature.txt');
    commitAll(checkout, 'feature work');
    git(checkout, 'push', '-q', bare, 'feature');
    git(checkout, 'checkout', '-q', 'main');
    const fromBare = await projects.create('alice', { name: 'bare', repo: bare });
    assert.equal(fromBare.status, 'ready');
    assert.equal(fromBare.commit, git(bare, 'rev-parse', 'main'));
    const onFeature = await projects.create('alice', { name: 'feat', repo: bare, ref: 'feature' });
    assert.equal(onFeature.commit, git(bare, 'rev-parse', 'feature'));
    const file = await inWorkspace('project.feat', 'cat feature.txt');
    assert.equal(file.output, 'feature\n');
  });

  test('a failing setup leaves the project failed with the exit code and the output', async () => {
    const project = await projects.create('alice', {
      name: 'broken',
      repo: checkout,
      setup: 'echo installing; echo "no such package" >&2; exit 3',
    });
    assert.equal(project.status, 'failed');
    assert.match(project.reason ?? '', /exited with code 3/);
    assert.match(project.reason ?? '', /no such package/);
    assert.equal((await projects.get('alice', 'broken')).status, 'failed');
    await assert.rejects(projects.forkForTicket('alice', 'broken', 'tkt_x-1'), {
      code: 'project_not_ready',
    });
  });

  test('a directory that is not a git repository is refused; nothing is created', async () => {
    const plain = join(fixtures, 'plain');
    await mkdir(plain);
    await assert.rejects(
      projects.create('alice', { name: 'plain', repo: plain }),
      (error: ProjectRepositoryError) =>
        error instanceof ProjectRepositoryError && /is not a git repository/.test(error.message),
    );
    await assert.rejects(projects.create('alice', { name: 'rel', repo: 'app' }), /not absolute/);
    await assert.rejects(
      projects.create('alice', { name: 'url', repo: 'https://example.com/x.git' }),
      /needs network/,
    );
    for (const name of ['plain', 'rel', 'url']) {
      assert.equal(await repository.getProject('alice', name), undefined);
      assert.equal(
        await context.workspaces.get(ownerWorkspaceName('alice', `project.${name}`)),
        undefined,
      );
    }
  });

  test('a bad .mags/project.json is an error naming the file and the field; nothing is created', async () => {
    const configured = join(fixtures, 'configured');
    execFileSync('git', ['clone', '-q', checkout, configured]);
    await mkdir(join(configured, '.mags'));
    await writeFile(join(configured, '.mags', 'project.json'), '{"setup": 5}');
    git(configured, 'add', '.mags');
    commitAll(configured, 'bad config');
    await assert.rejects(
      projects.create('alice', { name: 'badcfg', repo: configured }),
      (error: ProjectConfigError) =>
        error instanceof ProjectConfigError &&
        error.field === 'setup' &&
        error.message.includes('.mags/project.json'),
    );
    assert.equal(await repository.getProject('alice', 'badcfg'), undefined);
    assert.equal(
      await context.workspaces.get(ownerWorkspaceName('alice', 'project.badcfg')),
      undefined,
    );
    await writeFile(join(configured, '.mags', 'project.json'), '{"setup": ');
    commitAll(configured, 'not json');
    await assert.rejects(
      projects.create('alice', { name: 'badcfg', repo: configured }),
      (error: ProjectConfigError) => error.field === null && /not valid JSON/.test(error.message),
    );
    // A good file: its values are used, and a flag wins over it.
    await writeFile(
      join(configured, '.mags', 'project.json'),
      JSON.stringify({ setup: 'touch from-config', test: 'npm test', model: 'openai:gpt-5' }),
    );
    commitAll(configured, 'good config');
    const project = await projects.create('alice', {
      name: 'goodcfg',
      repo: configured,
      model: 'anthropic:claude-sonnet-4-5',
    });
    assert.deepEqual(
      [project.setup, project.test, project.model, project.config.model],
      ['touch from-config', 'npm test', 'anthropic:claude-sonnet-4-5', 'openai:gpt-5'],
    );
    assert.equal((await inWorkspace('project.goodcfg', 'test -f from-config')).exitCode, 0);
  });

  test('a repository under a root that makes git read another one outside it is refused; nothing is created', async () => {
    // A repository outside the roots (the server's own, say), and directories under a root that
    // point git at it in each way git allows.
    const secret = await mkdtemp(join(tmpdir(), 'mags-test-secret-'));
    try {
      git(secret, 'init', '-q', '-b', 'main');
      await writeFile(join(secret, 'secret.txt'), 'the server key\n');
      git(secret, 'add', '.');
      commitAll(secret, 'secret');
      const secretCommit = git(secret, 'rev-parse', 'HEAD');
      const outside = join(fixtures, 'outside');
      await mkdir(outside);
      const plainRepository = async (name: string) => {
        const directory = join(outside, name);
        git(outside, 'init', '-q', '-b', 'main', name);
        return directory;
      };
      const cases: Array<[string, () => Promise<string>, RegExp]> = [
        [
          'redirect',
          async () => {
            const directory = join(outside, 'redirect');
            await mkdir(directory);
            await writeFile(join(directory, '.git'), `gitdir: ${join(secret, '.git')}\n`);
            return directory;
          },
          /\.git is a file, not a directory/,
        ],
        [
          'linked',
          async () => {
            const directory = join(outside, 'linked');
            await mkdir(directory);
            await symlink(join(secret, '.git'), join(directory, '.git'));
            return directory;
          },
          /\.git is a link/,
        ],
        [
          'borrowing',
          async () => {
            const directory = await plainRepository('borrowing');
            await writeFile(
              join(directory, '.git/objects/info/alternates'),
              `${join(secret, '.git/objects')}\n`,
            );
            git(directory, 'update-ref', 'refs/heads/main', secretCommit);
            return directory;
          },
          /it has \.git\/objects\/info\/alternates/,
        ],
        [
          'common',
          async () => {
            const directory = await plainRepository('common');
            await writeFile(join(directory, '.git/commondir'), `${join(secret, '.git')}\n`);
            return directory;
          },
          /it has \.git\/commondir/,
        ],
        [
          'objects',
          async () => {
            const directory = await plainRepository('objects');
            await rm(join(directory, '.git/objects'), { recursive: true });
            await symlink(join(secret, '.git/objects'), join(directory, '.git/objects'));
            await writeFile(join(directory, '.git/refs/heads/main'), `${secretCommit}\n`);
            return directory;
          },
          /\.git\/objects links outside it/,
        ],
      ];
      for (const [name, make, why] of cases) {
        const directory = await make();
        await assert.rejects(
          projects.create('alice', { name, repo: directory }),
          (error: unknown) =>
            error instanceof ProjectRepositoryError &&
            /not wholly under the directories this server imports from/.test(error.message) &&
            why.test(error.message),
          name,
        );
        assert.equal(await repository.getProject('alice', name), undefined, name);
      }
      // The host's own local server reads any path: a .git file (a linked worktree's) is fine.
      const local = await bundleHostRepository(join(outside, 'redirect'));
      await local.cleanup();
    } finally {
      await rm(secret, { recursive: true, force: true });
    }
  });

  test('refresh picks up a new commit and re-runs the setup', async () => {
    await writeFile(join(checkout, 'later.txt'), 'later\n');
    git(checkout, 'add', 'later.txt');
    commitAll(checkout, 'later');
    await inWorkspace('project.app', 'rm node_modules/.installed');
    const refreshed = await projects.refresh('alice', 'app');
    assert.equal(refreshed.status, 'ready', refreshed.reason ?? '');
    assert.equal(refreshed.commit, git(checkout, 'rev-parse', 'HEAD'));
    const inside = await inWorkspace('project.app', 'cat later.txt node_modules/.installed');
    assert.equal(inside.exitCode, 0, inside.output);
    assert.match(inside.output, /^later\n/);
  });

  test("a ticket's fork does not reach the project; its bundle comes back as a branch, once checked", async () => {
    const project = await projects.get('alice', 'app');
    const fork = await projects.forkForTicket('alice', 'app', 'tkt_abc-0001');
    assert.deepEqual(fork, {
      workspace: 'tkt_abc-0001',
      commit: project.commit,
      tree: project.setupTree,
    });
    const base = project.commit ?? '';
    // The approved commit on mags/tkt_abc; then what a hostile sandbox could bundle instead: a
    // commit on top of another (not on the base), and two branches at once.
    const work = await inWorkspace(
      'tkt_abc-0001',
      `set -e
c() { git -c user.name=A -c user.email=a@example.com "$@"; }
git switch -q -c mags/tkt_abc
echo fixed > fix.txt && git add fix.txt && c commit -qm fix
git bundle create -q /workspace/.result.bundle refs/heads/mags/tkt_abc ^${base}
echo more > more.txt && git add more.txt && c commit -qm more
git bundle create -q /workspace/.on-top.bundle refs/heads/mags/tkt_abc ^${base}
git branch -q other HEAD~1
git bundle create -q /workspace/.two.bundle refs/heads/mags/tkt_abc refs/heads/other ^${base}
git rev-parse HEAD~1 HEAD~1^{tree} HEAD HEAD^{tree}
test -f node_modules/.installed`,
    );
    assert.equal(work.exitCode, 0, work.output);
    const [forkCommit = '', forkTree = '', onTop = '', onTopTree = ''] = work.output
      .trim()
      .split('\n')
      .slice(-4);
    const untouched = await inWorkspace('project.app', 'test ! -e fix.txt && git rev-parse HEAD');
    assert.equal(untouched.exitCode, 0, 'the fix is not in the project workspace');
    assert.equal(untouched.output.trim(), base);
    const read = (file: string) =>
      withWorkspaceSession(
        context,
        { workspace: ownerWorkspaceName('alice', 'tkt_abc-0001') },
        (sandbox) => sandbox.readFile(`/workspace/${file}`),
      );
    const bundle = await read('.result.bundle');
    const approved = { branch: 'mags/tkt_abc', commit: forkCommit, baseCommit: base };
    const mismatch = (pattern: RegExp) => (error: unknown) =>
      error instanceof ApprovedCommitMismatchError &&
      error.branch === 'mags/tkt_abc' &&
      pattern.test(error.message);
    // Not the commit the approval made, not the reviewed tree, not on the base alone, two refs:
    // refused, and no branch is made.
    await assert.rejects(
      projects.importBranch('alice', 'app', { bundle, ...approved, commit: onTop, tree: null }),
      mismatch(
        new RegExp(
          `holds ${forkCommit} refs/heads/mags/tkt_abc, not refs/heads/mags/tkt_abc at ${onTop}`,
        ),
      ),
    );
    await assert.rejects(
      projects.importBranch('alice', 'app', { bundle, ...approved, tree: onTopTree }),
      mismatch(new RegExp(`tree is ${forkTree}, not the reviewed tree ${onTopTree}`)),
    );
    await assert.rejects(
      projects.importBranch('alice', 'app', {
        bundle: await read('.on-top.bundle'),
        ...approved,
        commit: onTop,
        tree: onTopTree,
      }),
      mismatch(new RegExp(`parents are ${forkCommit}, not the base commit ${base}`)),
    );
    await assert.rejects(
      projects.importBranch('alice', 'app', {
        bundle: await read('.two.bundle'),
        ...approved,
        commit: onTop,
        tree: onTopTree,
      }),
      mismatch(/refs\/heads\/other/),
    );
    const none = await inWorkspace(
      'project.app',
      'git rev-parse -q --verify refs/heads/mags/tkt_abc',
    );
    assert.notEqual(none.exitCode, 0, 'no branch was made');

    const imported = await projects.importBranch('alice', 'app', {
      bundle,
      ...approved,
      tree: forkTree,
    });
    assert.equal(imported.commit, forkCommit);
    const branch = await inWorkspace(
      'project.app',
      'git rev-parse mags/tkt_abc && git rev-parse HEAD',
    );
    assert.deepEqual(branch.output.trim().split('\n'), [forkCommit, base]);
  });

  test("delete is refused while a ticket is queued or running, or another sandbox uses a workspace; then removes the tickets' sandboxes, workspaces and records", async () => {
    const at = new Date().toISOString();
    const ticket = (id: string, status: TicketRecord['status'], workspace: string | null) =>
      ({
        id,
        owner: 'alice',
        project: 'app',
        title: 'Fix',
        request: 'Fix it',
        criteria: [{ text: 'fixed' }],
        role: 'developer',
        model: null,
        budget: {},
        status,
        reason: null,
        workspace,
        baseCommit: null,
        baseTree: null,
        attempt: 1,
        usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, steps: 0 },
        branch: null,
        commit: null,
        plan: null,
        history: [],
        createdAt: at,
        updatedAt: at,
      }) satisfies TicketRecord;
    // The earlier test's fork, now a ticket awaiting review whose sandbox is still up and holds it.
    await repository.insertTicket(ticket('tkt_abc', 'awaiting_review', 'tkt_abc-0001'));
    await repository.insertTicket(ticket('tkt_waits', 'queued', null));
    await repository.insertTicket(ticket('tkt_runs', 'running', null));
    await sandboxes.create('alice', { name: 'tkt_abc', workspace: 'tkt_abc-0001' });
    const unchanged = async () => {
      assert.ok(await projects.get('alice', 'app'));
      assert.ok(await repository.getTicket('alice', 'tkt_abc'));
      assert.equal((await sandboxes.get('alice', 'tkt_abc')).status, 'running');
      for (const workspace of ['project.app', 'tkt_abc-0001']) {
        assert.ok(await context.workspaces.get(ownerWorkspaceName('alice', workspace)), workspace);
      }
    };

    await assert.rejects(projects.delete('alice', 'app'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'project_busy');
      assert.match(error.message, /tkt_waits \(queued\)/);
      assert.match(error.message, /tkt_runs \(running\)/);
      return true;
    });
    await unchanged();
    await assert.rejects(projects.delete('bob', 'app'), { code: 'project_not_found' });
    await repository.updateTicket('tkt_waits', { status: 'stopped' });
    await repository.updateTicket('tkt_runs', { status: 'failed' });

    // A sandbox of the owner's own on the project's workspace: named, and nothing is deleted.
    await sandboxes.create('alice', { name: 'mine', workspace: 'project.app' });
    await assert.rejects(projects.delete('alice', 'app'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'project_busy');
      assert.match(error.message, /mine \(on project\.app\)/);
      return true;
    });
    await unchanged();
    await sandboxes.delete('alice', 'mine');

    await projects.delete('alice', 'app');
    await assert.rejects(projects.get('alice', 'app'), { code: 'project_not_found' });
    assert.equal(await repository.getTicket('alice', 'tkt_abc'), undefined);
    assert.equal(await repository.getSandbox('alice', 'tkt_abc'), undefined);
    assert.equal(sandboxes.countsFor('alice').running, 0);
    for (const workspace of ['project.app', 'tkt_abc-0001']) {
      assert.equal(await context.workspaces.get(ownerWorkspaceName('alice', workspace)), undefined);
    }
  });

  test('a project a stopped server left importing is marked failed, with why', async () => {
    const at = new Date().toISOString();
    await repository.insertProject({
      owner: 'alice',
      name: 'halfway',
      repo: checkout,
      ref: null,
      workspace: 'project.halfway',
      setupTree: null,
      commit: null,
      setup: null,
      test: null,
      model: null,
      config: {},
      status: 'importing',
      reason: null,
      network: false,
      createdAt: at,
      updatedAt: at,
    });
    const recovered = await projects.recoverInterrupted();
    assert.deepEqual(
      recovered.map((project) => project.name),
      ['halfway'],
    );
    const failed = await projects.get('alice', 'halfway');
    assert.equal(failed.status, 'failed');
    assert.match(
      failed.reason ?? '',
      /server stopped while importing.*mags project delete halfway/,
    );
    assert.deepEqual(await projects.recoverInterrupted(), []);
    // As the reason says: deleted, then created again.
    await projects.delete('alice', 'halfway');
    const again = await projects.create('alice', { name: 'halfway', repo: checkout });
    assert.equal(again.status, 'ready', again.reason ?? '');
  });
});
