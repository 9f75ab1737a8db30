/**
 * A plan's git work on the real namespace runtime (PlanGit, src/plans/git/): approved tickets'
 * results merged into a fresh fork of the project workspace (over the files the project's setup
 * wrote), a conflict named with nothing left behind, a ticket started from a merge approved by
 * the real approval path and merged again, the integration's diff and tests, and the plan's
 * branch fetched from its bundle by a plain git on the host.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AgentSandbox } from '../src/agents/agent-sandbox.ts';
import { createMagsContext, type MagsContext } from '../src/context/mags-context.ts';
import {
  IntegrationCommitError,
  ResultCommitMissingError,
} from '../src/plans/git/plan-git-errors.ts';
import { ProjectPlanGit } from '../src/plans/git/project-plan-git.ts';
import { type ApprovedResult, MergeConflictError } from '../src/plans/plan-parts.ts';
import { ProjectManager } from '../src/projects/project-manager.ts';
import { withWorkspaceSession } from '../src/projects/workspace-session.ts';
import { SandboxManager } from '../src/sandboxes/sandbox-manager.ts';
import { createSqliteStateRepository } from '../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../src/state/state-repository.ts';
import { takeDiff } from '../src/tickets/evidence/take-diff.ts';
import { ownerWorkspaceName } from '../src/workspaces/owner-workspace.ts';
import { approveResult } from './helpers/approve-result.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping plan git tests: ${skip}\n`);

/** A setup that writes a file `.gitignore` does not cover, and installs into an ignored one. */
const setup = 'echo x > generated.txt && mkdir -p node_modules && echo dep > node_modules/dep.txt';
/** TAP with one passing and one failing test; fails unless c.txt says "done". */
const testScript = `echo 'TAP version 13'
echo '1..2'
echo 'ok 1 - runs'
if grep -q done c.txt 2>/dev/null; then echo 'ok 2 - c is done'; exit 0; fi
echo 'not ok 2 - c is done'
exit 1
`;

describe('plan git: merged forks, integration and the plan branch (namespace runtime)', {
  skip,
}, () => {
  let testHome: TestHome;
  let context: MagsContext;
  let repository: StateRepository;
  let projects: ProjectManager;
  let sandboxes: SandboxManager;
  let planGit: ProjectPlanGit;
  let checkout: string;
  let projectCommit: string;
  const results: Record<string, ApprovedResult> = {};
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8' }).trim();
  const onWorkspace = <T>(workspace: string, work: (sandbox: AgentSandbox) => Promise<T>) =>
    withWorkspaceSession(context, { workspace: ownerWorkspaceName('alice', workspace) }, work);
  const sh = async (sandbox: AgentSandbox, command: string) => {
    const result = await sandbox.exec(command, { timeoutMs: 60_000, cwd: '/workspace' });
    assert.equal(result.exitCode, 0, `${command}\n${result.output}`);
    return result.output.trim();
  };
  const workspaceExists = async (name: string) =>
    (await context.workspaces.get(ownerWorkspaceName('alice', name))) !== undefined;
  /** What the project workspace's repository is: HEAD, every ref, the status. */
  const projectState = () =>
    onWorkspace('project.app', (sandbox) =>
      sh(sandbox, 'git rev-parse HEAD && git for-each-ref && git status --porcelain'),
    );

  /** A ticket's result by the real approval path (approveResult), kept by its key. */
  async function approve(
    key: string,
    base: { workspace: string; commit: string; tree: string | null },
    work: string,
  ): Promise<ApprovedResult> {
    const result = await approveResult(
      { context, projects, owner: 'alice', project: 'app', key, base, work },
      (diff) =>
        assert.ok(
          diff.files.every((file) => file.path !== 'generated.txt' || work.includes('generated')),
          `the setup's file is not in ${key}'s diff: ${diff.diff}`,
        ),
    );
    results[key] = result;
    return result;
  }

  before(async () => {
    testHome = await createTestHome();
    context = createMagsContext({ ...process.env, MAGS_HOME: testHome.home, MAGS_DISK: '128M' });
    repository = createSqliteStateRepository(join(testHome.home, 'state.db'));
    sandboxes = new SandboxManager({ context, repository, sleepAfterMs: 0 });
    projects = new ProjectManager({ context, repository, sandboxes, roots: [testHome.home] });
    planGit = new ProjectPlanGit({ context, repository, projects });
    const fixtures = await mkdtemp(join(testHome.home, 'fixtures-'));
    checkout = join(fixtures, 'app');
    await mkdir(checkout);
    git(checkout, 'init', '-q', '-b', 'main');
    await writeFile(join(checkout, '.gitignore'), 'node_modules/\n');
    await writeFile(join(checkout, 'a.txt'), 'a\n');
    await writeFile(join(checkout, 'b.txt'), 'b\n');
    await writeFile(join(checkout, 'shared file.txt'), 'one\ntwo\nthree\n');
    await writeFile(join(checkout, 'test.sh'), testScript);
    git(checkout, 'add', '.');
    git(checkout, '-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qm', 'first');
    const project = await projects.create('alice', {
      name: 'app',
      repo: checkout,
      setup,
      test: 'sh test.sh',
    });
    assert.equal(project.status, 'ready', project.reason ?? '');
    assert.notEqual(project.setupTree, git(checkout, 'rev-parse', 'HEAD^{tree}'));
    projectCommit = project.commit ?? '';

    // Two independent tickets from the project: A also changes the file the setup wrote.
    const forkA = await planGit.forkMerged('alice', 'app', 'tkt_a-0001', []);
    assert.deepEqual(forkA, {
      workspace: 'tkt_a-0001',
      commit: projectCommit,
      tree: project.setupTree,
      conflicts: [],
    });
    await approve('a', forkA, 'echo A >> a.txt && echo from-a >> generated.txt');
    const forkB = await planGit.forkMerged('alice', 'app', 'tkt_b-0001', []);
    await approve('b', forkB, 'echo B >> b.txt && echo new > "b new file.txt"');
  });
  after(async () => {
    await sandboxes?.shutdown();
    await repository?.close();
    await testHome?.cleanup();
  });

  test('two results changing different files merge: the fork has both over the setup files, HEAD at the merge', async () => {
    const { a, b } = results as { a: ApprovedResult; b: ApprovedResult };
    const merged = await planGit.forkMerged('alice', 'app', 'tkt_d-0001', [a, b]);
    assert.equal(merged.workspace, 'tkt_d-0001');
    assert.match(merged.commit, /^[0-9a-f]{40}$/);
    assert.match(merged.tree ?? '', /^[0-9a-f]{40}$/);
    await onWorkspace('tkt_d-0001', async (sandbox) => {
      assert.equal(await sh(sandbox, 'git rev-parse HEAD'), merged.commit);
      assert.equal(await sh(sandbox, 'git rev-parse HEAD^1 HEAD^2'), `${a.commit}\n${b.commit}`);
      assert.equal(
        await sh(sandbox, 'git log -1 --format=%an%n%ae%n%s HEAD'),
        'mags\nmags@localhost\nMerge mags/tkt_b (b)',
      );
      assert.equal(await sh(sandbox, 'git rev-parse refs/mags/merges/tkt_d-0001'), merged.commit);
      assert.equal(await sh(sandbox, 'cat a.txt b.txt "b new file.txt"'), 'a\nA\nb\nB\nnew');
      // A's change to the setup's file wins; the setup's installs are still there.
      assert.equal(await sh(sandbox, 'cat generated.txt node_modules/dep.txt'), 'x\nfrom-a\ndep');
      // The index is the merge's tree; nothing is left to commit of the results.
      assert.equal(await sh(sandbox, 'git diff --cached --name-only HEAD'), '');
      assert.equal(await sh(sandbox, 'git status --porcelain'), '');
      // A ticket's diff against the returned tree: nothing yet, and the tree is the files'.
      const diff = await takeDiff(sandbox, merged.commit, { setupTree: merged.tree });
      assert.deepEqual(diff.files, []);
      assert.equal(diff.tree, merged.tree);
    });
  });

  test('a result whose base is the merge is approved, and a fork from it has every change', async () => {
    const { a, b } = results as { a: ApprovedResult; b: ApprovedResult };
    const base = await planGit.forkMerged('alice', 'app', 'tkt_c-0001', [a, b]);
    const c = await approve('c', base, 'echo done > c.txt && echo C >> a.txt');
    await onWorkspace('project.app', async (sandbox) => {
      assert.equal(await sh(sandbox, 'git rev-parse mags/tkt_c^'), base.commit);
      // The approved commit holds C's change alone on the merge: not the setup's file as it is.
      assert.equal(
        await sh(sandbox, `git diff --no-renames --name-status ${base.commit} mags/tkt_c`),
        'M\ta.txt\nA\tc.txt',
      );
    });
    const d = await planGit.forkMerged('alice', 'app', 'tkt_e-0001', [c]);
    assert.equal(d.commit, c.commit, 'one result is its own commit');
    // A result already in another adds nothing: [c, a] is c.
    const again = await planGit.forkMerged('alice', 'app', 'tkt_f-0001', [c, a]);
    assert.equal(again.commit, c.commit);
    await onWorkspace('tkt_e-0001', async (sandbox) => {
      assert.equal(await sh(sandbox, 'git rev-parse HEAD'), c.commit);
      assert.equal(
        await sh(sandbox, 'cat a.txt b.txt c.txt generated.txt'),
        'a\nA\nC\nb\nB\ndone\nx\nfrom-a',
      );
      await sh(sandbox, 'echo mine > d.txt');
      const diff = await takeDiff(sandbox, d.commit, { setupTree: d.tree });
      assert.deepEqual(
        diff.files.map((file) => file.path),
        ['d.txt'],
      );
    });
  });

  test('a setup file the results did not touch stays in a merged fork and is not in its diff', async () => {
    // B and an unrelated result on its own: the setup's generated.txt as the setup wrote it.
    const forkG = await planGit.forkMerged('alice', 'app', 'tkt_g-0001', []);
    const g = await approve('g', forkG, 'echo G > g.txt');
    const { b } = results as { b: ApprovedResult };
    const merged = await planGit.forkMerged('alice', 'app', 'tkt_h-0001', [b, g]);
    await onWorkspace('tkt_h-0001', async (sandbox) => {
      assert.equal(await sh(sandbox, 'cat generated.txt g.txt b.txt'), 'x\nG\nb\nB');
      assert.equal(await sh(sandbox, 'git status --porcelain'), '?? generated.txt');
      await sh(sandbox, 'echo H > h.txt');
      const diff = await takeDiff(sandbox, merged.commit, { setupTree: merged.tree });
      assert.deepEqual(
        diff.files.map((file) => file.path),
        ['h.txt'],
      );
      // Against the merge's commit alone, the setup's file would show as the ticket's.
      const plain = await takeDiff(sandbox, merged.commit);
      assert.deepEqual(
        plain.files.map((file) => file.path),
        ['generated.txt', 'h.txt'],
      );
    });
  });

  test('two results changing the same lines: MergeConflictError naming the file, nothing left', async () => {
    const forkX = await planGit.forkMerged('alice', 'app', 'tkt_x-0001', []);
    const x = await approve('x', forkX, `sed -i 's/two/two by x/' "shared file.txt"`);
    const forkY = await planGit.forkMerged('alice', 'app', 'tkt_y-0001', []);
    const y = await approve('y', forkY, `sed -i 's/two/two by y/' "shared file.txt"`);
    const before = await projectState();
    await assert.rejects(
      planGit.forkMerged('alice', 'app', 'tkt_z-0001', [results.a as ApprovedResult, x, y]),
      (error: unknown) =>
        error instanceof MergeConflictError &&
        error.statusCode === 409 &&
        error.code === 'merge_conflict' &&
        JSON.stringify(error.files) === JSON.stringify(['shared file.txt']) &&
        /Merging ticket y \(tkt_y\) onto a, x/.test(error.message),
    );
    assert.equal(await workspaceExists('tkt_z-0001'), false, 'no workspace is left');
    assert.equal(await projectState(), before, 'the project workspace is as it was');
  });

  test('a result whose commit is not in the project: a clear error and the fork deleted', async () => {
    const ghost = { key: 'ghost', ticket: 'tkt_ghost', commit: 'ab'.repeat(20) };
    await assert.rejects(
      planGit.forkMerged('alice', 'app', 'tkt_w-0001', [ghost]),
      (error: unknown) => error instanceof ResultCommitMissingError && error.ticket === 'tkt_ghost',
    );
    assert.equal(await workspaceExists('tkt_w-0001'), false);
    await assert.rejects(
      planGit.forkMerged('alice', 'app', 'tkt_w-0002', [results.a as ApprovedResult, ghost]),
      (error: unknown) => error instanceof ResultCommitMissingError && error.ticket === 'tkt_ghost',
    );
    assert.equal(await workspaceExists('tkt_w-0002'), false);
  });

  test('integrate runs the tests and diffs every result; the plan branch is fetched from its bundle by plain git', async () => {
    const { a, b, c } = results as Record<string, ApprovedResult>;
    // Without C the test fails: exit code and counts.
    const failing = await planGit.integrate('alice', 'app', 'plan-fail', {
      baseCommit: projectCommit,
      results: [a as ApprovedResult, b as ApprovedResult],
    });
    assert.equal(failing.tests?.exitCode, 1);
    assert.deepEqual(failing.tests?.counts, { passed: 1, failed: 1, skipped: 0, format: 'tap' });
    assert.match(failing.tests?.log ?? '', /not ok 2 - c is done/);

    const integration = await planGit.integrate('alice', 'app', 'plan-x', {
      baseCommit: projectCommit,
      results: [a as ApprovedResult, b as ApprovedResult, c as ApprovedResult],
    });
    assert.equal(integration.workspace, 'plan-x');
    assert.equal(integration.commit, c?.commit, 'C was made on the merge of A and B');
    assert.equal(integration.tests?.exitCode, 0);
    assert.deepEqual(integration.tests?.counts, {
      passed: 2,
      failed: 0,
      skipped: 0,
      format: 'tap',
    });
    assert.deepEqual(
      integration.diffStat.files.map((file) => file.path),
      ['a.txt', 'b new file.txt', 'b.txt', 'c.txt', 'generated.txt'],
    );
    assert.match(integration.diff, /^ x\n\+from-a$/m, "A's line on the setup's file");
    assert.ok(integration.durationMs > 0);

    const approved = await planGit.approveIntegration('alice', 'app', {
      branch: 'mags/plan-x',
      commit: integration.commit,
      baseCommit: projectCommit,
    });
    assert.equal(approved.commit, integration.commit);
    const fresh = join(testHome.home, 'fresh');
    execFileSync('git', ['clone', '-q', checkout, fresh]);
    const bundle = join(testHome.home, 'plan-x.bundle');
    await writeFile(bundle, approved.bundle);
    git(fresh, 'fetch', '-q', bundle, 'mags/plan-x');
    assert.equal(git(fresh, 'rev-parse', 'FETCH_HEAD'), integration.commit);
    assert.equal(
      git(fresh, 'diff', '--no-renames', '--name-status', 'main', 'FETCH_HEAD'),
      'M\ta.txt\nA\tb new file.txt\nM\tb.txt\nA\tc.txt\nA\tgenerated.txt',
    );
    assert.equal(git(fresh, 'show', 'FETCH_HEAD:generated.txt'), 'x\nfrom-a');

    // The base itself, or a commit not on it, is refused.
    await assert.rejects(
      planGit.approveIntegration('alice', 'app', {
        branch: 'mags/plan-y',
        commit: projectCommit,
        baseCommit: projectCommit,
      }),
      (error: unknown) =>
        error instanceof IntegrationCommitError && /the plan changed nothing/.test(error.message),
    );
    await assert.rejects(
      planGit.approveIntegration('alice', 'app', {
        branch: 'mags/plan-y',
        commit: projectCommit,
        baseCommit: integration.commit,
      }),
      (error: unknown) =>
        error instanceof IntegrationCommitError && /not built on the base/.test(error.message),
    );
  });
});
