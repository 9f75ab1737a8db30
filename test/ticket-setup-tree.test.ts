/**
 * A project whose setup writes files `.gitignore` does not cover (a lockfile `npm install` made,
 * a tracked file it changed), on the real namespace runtime: the project records the tree of its
 * files after the setup; a ticket's diff is taken against it, so it shows the agent's change
 * alone; the approved commit holds that change alone on the base commit (a file the setup made
 * that the agent changed included), checked again in the project's workspace and applied in a
 * fresh host clone. A setup that changes nothing keeps the plain path.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AgentSandbox } from '../src/agents/agent-sandbox.ts';
import { applyTicketBundle } from '../src/cli/client/apply-ticket-bundle.ts';
import { createMagsContext, type MagsContext } from '../src/context/mags-context.ts';
import { ApprovedCommitMismatchError } from '../src/projects/project-errors.ts';
import { ProjectManager } from '../src/projects/project-manager.ts';
import { withWorkspaceSession } from '../src/projects/workspace-session.ts';
import { SandboxManager } from '../src/sandboxes/sandbox-manager.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../src/state/state-repository.ts';
import { SetupTreeMissingError } from '../src/tickets/evidence/git-errors.ts';
import { takeDiff } from '../src/tickets/evidence/take-diff.ts';
import { commitApproved } from '../src/tickets/review/commit-approved.ts';
import { verifyApprovedBundle } from '../src/tickets/review/verify-approved-bundle.ts';
import { ownerWorkspaceName } from '../src/workspaces/owner-workspace.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping setup tree tests: ${skip}\n`);

/** Writes an untracked file, changes a tracked one, and installs into an ignored directory. */
const setup =
  'echo generated > setup-output.txt && echo "changed by setup" >> config.txt && mkdir -p node_modules && echo x > node_modules/installed.txt';

/** The agent's work: a tracked file fixed, a new file, and a line added to the setup's file. */
const agentWork = String.raw`set -e
printf 'exports.sum = (a, b) => a + b;\n' > sum.js
printf 'notes\n' > agent.txt
printf 'agent line\n' >> setup-output.txt`;

const approval = (branch: string) => ({
  branch,
  message: 'approved',
  authorName: 'Rita Reviewer',
  authorEmail: 'rita@example.com',
});

describe('what a project setup changed is not the ticket change (namespace runtime)', {
  skip,
}, () => {
  let testHome: TestHome;
  let context: MagsContext;
  let repository: StateRepository;
  let projects: ProjectManager;
  let sandboxes: SandboxManager;
  let checkout: string;
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8' }).trim();
  /** Runs `work` with a sandbox on one of alice's workspaces. */
  const onWorkspace = <T>(workspace: string, work: (sandbox: AgentSandbox) => Promise<T>) =>
    withWorkspaceSession(context, { workspace: ownerWorkspaceName('alice', workspace) }, work);
  const sh = async (sandbox: AgentSandbox, command: string) => {
    const result = await sandbox.exec(command, { timeoutMs: 60_000, cwd: '/workspace' });
    assert.equal(result.exitCode, 0, `${command}\n${result.output}`);
    return result.output.trim();
  };

  before(async () => {
    testHome = await createTestHome();
    context = createMagsContext({ ...process.env, MAGS_HOME: testHome.home, MAGS_DISK: '128M' });
    repository = createSqliteStateRepository(join(testHome.home, 'state.db'));
    sandboxes = new SandboxManager({ context, repository, sleepAfterMs: 0 });
    projects = new ProjectManager({ context, repository, sandboxes, roots: [testHome.home] });
    const fixtures = await mkdtemp(join(testHome.home, 'fixtures-'));
    checkout = join(fixtures, 'app');
    await mkdir(checkout);
    git(checkout, 'init', '-q', '-b', 'main');
    // No lockfile, no dependencies: what `npm install` would add is the setup's.
    await writeFile(join(checkout, 'package.json'), '{ "name": "app", "private": true }\n');
    await writeFile(join(checkout, '.gitignore'), 'node_modules/\n');
    await writeFile(join(checkout, 'config.txt'), 'tracked\n');
    await writeFile(join(checkout, 'sum.js'), 'exports.sum = (a, b) => a - b;\n');
    git(checkout, 'add', '.');
    git(checkout, '-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qm', 'first');
  });
  after(async () => {
    await sandboxes?.shutdown();
    await repository?.close();
    await testHome?.cleanup();
  });

  test('a setup that changes nothing: the setup tree is the commit tree, the approval as before', async () => {
    const project = await projects.create('alice', {
      name: 'plain',
      repo: checkout,
      setup: 'mkdir -p node_modules && echo x > node_modules/installed.txt',
    });
    assert.equal(project.status, 'ready', project.reason ?? '');
    assert.equal(project.setupTree, git(checkout, 'rev-parse', 'HEAD^{tree}'));
    const fork = await projects.forkForTicket('alice', 'plain', 'tkt_plain-0001');
    assert.deepEqual(fork, {
      workspace: 'tkt_plain-0001',
      commit: project.commit,
      tree: project.setupTree,
    });
    const base = project.commit ?? '';
    const approved = await onWorkspace('tkt_plain-0001', async (sandbox) => {
      await sh(sandbox, "printf 'exports.sum = (a, b) => a + b;\\n' > sum.js");
      const diff = await takeDiff(sandbox, base, { setupTree: fork.tree });
      assert.deepEqual(
        diff.files.map((file) => file.path),
        ['sum.js'],
      );
      const committed = await commitApproved(sandbox, {
        baseCommit: base,
        ...approval('mags/tkt_plain'),
        tree: diff.tree,
        setupTree: fork.tree,
      });
      // The plain path: the reviewed tree itself, one ref in the bundle.
      assert.equal(committed.tree, diff.tree);
      assert.equal(committed.reviewedCommit, null);
      return { ...committed, reviewed: diff.tree };
    });
    const imported = await projects.importBranch('alice', 'plain', {
      bundle: approved.bundle,
      branch: 'mags/tkt_plain',
      commit: approved.commit,
      baseCommit: base,
      tree: approved.reviewed,
      setupTree: fork.tree,
    });
    assert.equal(imported.commit, approved.commit);
  });

  test("the diff and the approved commit hold the agent's change alone, a change to a file the setup made included", async () => {
    const project = await projects.create('alice', { name: 'app', repo: checkout, setup });
    assert.equal(project.status, 'ready', project.reason ?? '');
    const base = project.commit ?? '';
    assert.match(project.setupTree ?? '', /^[0-9a-f]{40}$/);
    assert.notEqual(project.setupTree, git(checkout, 'rev-parse', 'HEAD^{tree}'));
    const fork = await projects.forkForTicket('alice', 'app', 'tkt_app-0001');
    assert.equal(fork.tree, project.setupTree);

    const approved = await onWorkspace('tkt_app-0001', async (sandbox) => {
      await sh(sandbox, agentWork);
      // Against the base commit (as before), the setup's files would show as the agent's.
      const againstCommit = await takeDiff(sandbox, base);
      assert.deepEqual(
        againstCommit.files.map((file) => file.path),
        ['agent.txt', 'config.txt', 'setup-output.txt', 'sum.js'],
      );
      const diff = await takeDiff(sandbox, base, { setupTree: fork.tree });
      assert.deepEqual(diff.files, [
        { path: 'agent.txt', added: 1, removed: 0, binary: false },
        { path: 'setup-output.txt', added: 1, removed: 0, binary: false },
        { path: 'sum.js', added: 1, removed: 1, binary: false },
      ]);
      assert.match(diff.diff, /^ generated\n\+agent line$/m);
      assert.doesNotMatch(diff.diff, /config\.txt|changed by setup/);
      assert.equal(diff.tree, againstCommit.tree, 'the same files, compared with another tree');

      const committed = await commitApproved(sandbox, {
        baseCommit: base,
        ...approval('mags/tkt_app'),
        tree: diff.tree,
        setupTree: fork.tree,
      });
      assert.match(committed.reviewedCommit ?? '', /^[0-9a-f]{40}$/);
      assert.equal(await sh(sandbox, `git rev-parse ${committed.commit}^`), base);
      assert.equal(
        await sh(sandbox, `git diff --no-renames --name-status ${base} ${committed.commit}`),
        'A\tagent.txt\nA\tsetup-output.txt\nM\tsum.js',
      );
      // The same files the reviewer saw, but the setup's change to config.txt left out.
      assert.equal(await sh(sandbox, `git show ${committed.commit}:config.txt`), 'tracked');
      assert.equal(
        await sh(sandbox, `git show ${committed.commit}:setup-output.txt`),
        'generated\nagent line',
      );
      // What a sandbox could send instead: the reviewed tree committed whole (the setup's change
      // in it, which the reviewer never saw), with no reviewed ref.
      const whole = await commitApproved(sandbox, {
        baseCommit: base,
        ...approval('mags/tkt_whole'),
        tree: diff.tree,
      });
      assert.equal(whole.tree, diff.tree);
      // A setup tree the repository does not have: a clear error.
      await assert.rejects(
        takeDiff(sandbox, base, { setupTree: 'ab'.repeat(20) }),
        (error: unknown) =>
          error instanceof SetupTreeMissingError && error.tree === 'ab'.repeat(20),
      );
      return { committed, whole, reviewed: diff.tree };
    });

    const { committed, whole, reviewed } = approved;
    // On the host: the branch and the reviewed ref, exactly, at the commits the approval made.
    const expected = { branch: 'mags/tkt_app', commit: committed.commit, baseCommit: base };
    verifyApprovedBundle(committed.bundle, {
      ...expected,
      reviewedCommit: committed.reviewedCommit,
    });
    assert.throws(
      () => verifyApprovedBundle(committed.bundle, { ...expected, reviewedCommit: null }),
      /refs\/mags\/reviewed\/tkt_app at .*, not refs\/heads\/mags\/tkt_app alone/,
    );
    assert.throws(
      () => verifyApprovedBundle(committed.bundle, { ...expected, reviewedCommit: base }),
      (error: unknown) =>
        error instanceof ApprovedCommitMismatchError &&
        error.message.includes(`not ${committed.commit} and ${base}`),
    );
    const options = {
      baseCommit: base,
      tree: reviewed,
      setupTree: fork.tree,
    };
    await assert.rejects(
      projects.importBranch('alice', 'app', {
        ...options,
        bundle: whole.bundle,
        branch: 'mags/tkt_whole',
        commit: whole.commit,
      }),
      (error: unknown) =>
        error instanceof ApprovedCommitMismatchError &&
        new RegExp(`its tree is ${reviewed}, not the reviewed tree`).test(error.message),
    );
    const imported = await projects.importBranch('alice', 'app', {
      ...options,
      bundle: committed.bundle,
      branch: 'mags/tkt_app',
      commit: committed.commit,
    });
    assert.equal(imported.commit, committed.commit);
    const inProject = await onWorkspace('project.app', (sandbox) =>
      sh(sandbox, 'git rev-parse mags/tkt_app && git for-each-ref refs/mags/reviewed'),
    );
    assert.equal(inProject, committed.commit, 'the branch alone is made, no reviewed ref');

    // A fresh clone on the host: the agent's change on the base commit, nothing of the setup's.
    const fresh = join(testHome.home, 'fresh');
    execFileSync('git', ['clone', '-q', checkout, fresh]);
    const applied = await applyTicketBundle({
      cwd: fresh,
      bundle: committed.bundle,
      branch: 'mags/tkt_app',
    });
    assert.equal(applied.commit, committed.commit);
    assert.equal(
      git(fresh, 'diff', '--no-renames', '--name-status', 'main', 'mags/tkt_app'),
      'A\tagent.txt\nA\tsetup-output.txt\nM\tsum.js',
    );
    assert.equal(git(fresh, 'rev-parse', 'mags/tkt_app^'), git(fresh, 'rev-parse', 'main'));
    assert.equal(git(fresh, 'show', 'mags/tkt_app:config.txt'), 'tracked');
  });
});
