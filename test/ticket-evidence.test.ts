/**
 * Evidence and review on the real namespace runtime (issue 12, items 6 and 7): a fixture git
 * repository made inside a sandbox on its workspace; the platform's diff, test run and criteria
 * checks through `runtimeAgentSandbox`, never on the host; then the approved commit as a bundle,
 * applied with host git into a fresh clone of the fixture repository.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AgentOutcome } from '../src/agents/agent.ts';
import type { AgentSandbox } from '../src/agents/agent-sandbox.ts';
import { runtimeAgentSandbox } from '../src/agents/runtime-agent-sandbox.ts';
import type { Criterion, Evidence, TicketEventData } from '../src/api/tickets.ts';
import { applyTicketBundle } from '../src/cli/client/apply-ticket-bundle.ts';
import { nativeBinaryPath } from '../src/config/package-paths.ts';
import { ImageStore } from '../src/images/image-store.ts';
import { ApprovedCommitMismatchError } from '../src/projects/project-errors.ts';
import { createShiftedIdMapping } from '../src/runtimes/namespace/id-mapping.ts';
import { createNamespaceRuntime } from '../src/runtimes/namespace/namespace-runtime.ts';
import type { Sandbox } from '../src/runtimes/runtime.ts';
import { createFilesystemObjectStore } from '../src/storage/filesystem/filesystem-object-store.ts';
import { assembleEvidence } from '../src/tickets/evidence/assemble-evidence.ts';
import {
  BaseCommitMissingError,
  BranchExistsError,
  BundlePrerequisiteMissingError,
  HiddenGitAttributesError,
  NotAGitRepositoryError,
  ReviewedTreeMissingError,
} from '../src/tickets/evidence/git-errors.ts';
import { takeDiff } from '../src/tickets/evidence/take-diff.ts';
import { readBundleHeader } from '../src/tickets/review/bundle-header.ts';
import { commitApproved } from '../src/tickets/review/commit-approved.ts';
import { verifyApprovedBundle } from '../src/tickets/review/verify-approved-bundle.ts';
import { WorkspaceStore } from '../src/workspaces/workspace-store.ts';
import { WorkspaceSync } from '../src/workspaces/workspace-sync.ts';
import { createTestHome, sandboxSkipReason, type TestHome } from './helpers/test-home.ts';

const skip = sandboxSkipReason();
if (skip) process.stdout.write(`# skipping ticket evidence tests: ${skip}\n`);

const usage = { inputTokens: 1200, outputTokens: 340, costUsd: 0.0123, steps: 4 };

/** The fixture: a bug (`add` subtracts), a test that finds it, a binary file, ignore rules. */
const fixtureScript = String.raw`set -e
git init -q -b main .
git config user.email fixture@example.com
git config user.name Fixture
printf 'node_modules/\n*.log\n' > .gitignore
printf 'export const add = (a, b) => a - b;\n' > math.mjs
printf 'to be deleted\n' > old.txt
printf '\000\001\002' > image.bin
mkdir test
cat > test/math.test.mjs <<'TEST'
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { add } from '../math.mjs';
test('add adds', () => assert.equal(add(2, 3), 5));
TEST
git add -A
git commit -qm 'the fixture'
git bundle create -q /tmp/fixture.bundle HEAD main
git rev-parse HEAD`;

/** The known change: modified, untracked, deleted, a binary file changed, ignored files. */
const changeScript = String.raw`set -e
printf 'export const add = (a, b) => a + b;\n' > math.mjs
mkdir -p src && printf 'hello\n' > src/new.txt
rm old.txt
printf '\000\003' > image.bin
mkdir -p node_modules/pkg && printf 'module.exports = 1;\n' > node_modules/pkg/index.js
printf 'noise\n' > debug.log`;

const expectedFiles = [
  { path: 'image.bin', added: null, removed: null, binary: true },
  { path: 'math.mjs', added: 1, removed: 1, binary: false },
  { path: 'old.txt', added: 0, removed: 1, binary: false },
  { path: 'src/new.txt', added: 1, removed: 0, binary: false },
];

/** The patch without its `index <blob>..<blob>` lines. */
const expectedPatch = `diff --git a/image.bin b/image.bin
Binary files a/image.bin and b/image.bin differ
diff --git a/math.mjs b/math.mjs
--- a/math.mjs
+++ b/math.mjs
@@ -1 +1 @@
-export const add = (a, b) => a - b;
+export const add = (a, b) => a + b;
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-to be deleted
diff --git a/src/new.txt b/src/new.txt
new file mode 100644
--- /dev/null
+++ b/src/new.txt
@@ -0,0 +1 @@
+hello
`;

const criteria: Criterion[] = [
  { text: 'add adds', check: 'node --test test/math.test.mjs' },
  { text: 'the notes mention the fix', check: 'grep -q fixed NOTES.md' },
  { text: 'the code reads well' },
];

/** What a liar says: every criterion met, whatever it did. */
const liar: AgentOutcome = {
  reason: 'finished',
  message: 'the agent finished',
  summary: 'Fixed everything.',
  claims: criteria.map((_, criterion) => ({ criterion, met: true, note: 'done' })),
  usage,
  history: [],
};

const approval = (branch: string) => ({
  branch,
  message: 'approved',
  authorName: 'Rita Reviewer',
  authorEmail: 'rita@example.com',
});

function hostGit(cwd: string, args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=Host', '-c', 'user.email=host@example.com', ...args],
    {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  ).trim();
}

describe('ticket evidence and review in a sandbox', { skip }, () => {
  let home: TestHome;
  let runtimeSandbox: Sandbox;
  let sandbox: AgentSandbox;
  let base: string;
  let fixtureBundle: Buffer;
  let hostDirectory: string;
  /** What the reviewer sees after the fix: its diff is what approving must commit. */
  let reviewed: Evidence;

  const sh = async (script: string, timeoutMs = 60_000) => {
    const result = await sandbox.exec(script, { timeoutMs });
    assert.equal(result.exitCode, 0, `${script}\n${result.output}`);
    return result.output;
  };

  before(async () => {
    home = await createTestHome();
    hostDirectory = await mkdtemp(join(tmpdir(), 'mags-ticket-host-'));
    const idMapping = createShiftedIdMapping();
    const workspaces = new WorkspaceStore({ home: home.home, idMapping });
    const runtime = createNamespaceRuntime({
      home: home.home,
      idMapping,
      stores: {
        images: new ImageStore({ home: home.home, idMapping }),
        workspaces,
        sync: new WorkspaceSync({
          store: createFilesystemObjectStore({ root: join(home.home, 'store') }),
          workspaces,
          home: home.home,
        }),
      },
      launcherPath: nativeBinaryPath('mags-sandbox'),
      agentPath: nativeBinaryPath('mags-agent'),
    });
    runtimeSandbox = await runtime.start({
      id: 'ticket-evidence',
      image: { name: 'default' },
      workspace: { name: 'tkt_evidence-fixture', access: 'writable' },
      limits: { memoryMiB: 512, cpus: 1, pidsMax: 256 },
      network: { egress: 'none' },
    });
    sandbox = runtimeAgentSandbox(runtimeSandbox);
    base = (await sh(fixtureScript)).trim();
    fixtureBundle = await sandbox.readFile('/tmp/fixture.bundle');
  });
  after(async () => {
    await runtimeSandbox?.stop();
    await home?.cleanup();
    await rm(hostDirectory, { recursive: true, force: true });
  });

  test("a liar's claims make nothing met: checks fail, a criterion without a check needs a person", async () => {
    const events: TicketEventData[] = [];
    const evidence = await assembleEvidence({
      sandbox,
      ticket: { id: 'tkt_liar', attempt: 1, criteria, baseCommit: base, usage },
      test: 'node --test',
      outcome: liar,
      startedAt: new Date(Date.now() - 5000).toISOString(),
      emit: (event) => {
        events.push(event);
      },
    });
    assert.deepEqual(
      evidence.criteria.map((criterion) => [criterion.status, criterion.claim?.met]),
      [
        ['not_met', true],
        ['not_met', true],
        ['needs_person', true],
      ],
    );
    assert.equal(evidence.criteria[0]?.exitCode, 1);
    assert.match(evidence.criteria[0]?.output ?? '', /add adds/);
    assert.equal(evidence.diff, '');
    assert.deepEqual(evidence.diffStat.files, []);
    assert.equal(evidence.tests?.exitCode, 1);
    // A real node --test run inside the sandbox, its counts read from its own output.
    assert.deepEqual(evidence.tests?.counts, { passed: 0, failed: 1, skipped: 0, format: 'node' });
    assert.equal(evidence.summary, 'Fixed everything.');
    assert.equal(evidence.agentEnd, 'finished');
    assert.deepEqual(evidence.usage, usage);
    assert.ok(evidence.durationMs >= 5000);
    assert.deepEqual(
      events.map((event) =>
        event.type === 'command' ? `command:${event.source}:${event.exitCode}` : event.type,
      ),
      [
        'command:test:1',
        'command:check:1',
        'check',
        'command:check:2',
        'check',
        'check',
        'evidence',
      ],
    );
    const last = events.at(-1);
    assert.deepEqual(last, {
      type: 'evidence',
      summary:
        '0/3 criteria met (1 for a person to judge), tests 0 passed 1 failed (exit 1), 0 files changed',
    });
  });

  test('the diff is exactly the change: modified, untracked, deleted, binary; ignored files left out', async () => {
    await sh(changeScript);
    const statusBefore = await sh('git status --porcelain');
    const { diff, files, tree } = await takeDiff(sandbox, base);
    assert.deepEqual(files, expectedFiles);
    assert.match(tree, /^[0-9a-f]{40}$/);
    assert.equal(diff.replace(/^index [0-9a-f]+\.\.[0-9a-f]+.*\n/gm, ''), expectedPatch);
    assert.doesNotMatch(diff, /node_modules|debug\.log/);
    // The repository's own index and working tree are as they were: nothing staged by the diff.
    assert.equal(await sh('git status --porcelain'), statusBefore);
    assert.equal(await sh('git diff --cached --name-only'), '');

    // The agent committing part of its work moves HEAD; the diff against the base is the same.
    await sh('git add math.mjs && git commit -qm "agent: fix add"');
    const afterCommit = await takeDiff(sandbox, base);
    assert.equal(afterCommit.diff, diff);
    assert.deepEqual(afterCommit.files, expectedFiles);
  });

  test('a missing base commit and a directory without a repository are clear errors', async () => {
    await assert.rejects(takeDiff(sandbox, 'ab'.repeat(20)), (error: unknown) => {
      assert.ok(error instanceof BaseCommitMissingError);
      assert.equal(error.commit, 'ab'.repeat(20));
      assert.match(error.hint ?? '', /create a new one/);
      return true;
    });
    await assert.rejects(
      takeDiff(sandbox, base, { repository: '/tmp' }),
      (error: unknown) => error instanceof NotAGitRepositoryError && error.path === '/tmp',
    );
  });

  test('files hidden from git by the agent still show: .git/info/exclude, core.excludesFile, assume-unchanged', async () => {
    await sh(String.raw`set -e
printf 'export const secret = 1;\n' > hidden.mjs
printf 'hidden.mjs\n' >> .git/info/exclude
printf '*.cfg\n' > /tmp/agent-excludes
git config core.excludesFile /tmp/agent-excludes
printf 'token=1\n' > app.cfg
git update-index --assume-unchanged test/math.test.mjs
printf '// loaded by the tests, unseen by git status\n' >> test/math.test.mjs`);
    // git itself no longer sees them: what the agent meant to hide.
    assert.doesNotMatch(await sh('git status --porcelain'), /hidden\.mjs|app\.cfg|math\.test/);
    const hiding = await takeDiff(sandbox, base);
    assert.deepEqual(
      hiding.files.map((file) => file.path),
      [
        'app.cfg',
        'hidden.mjs',
        ...expectedFiles.map((file) => file.path),
        'test/math.test.mjs',
      ].sort(),
    );
    assert.match(hiding.diff, /\+export const secret = 1;/);
    assert.match(hiding.diff, /\+\/\/ loaded by the tests/);
    // The repository's own .gitignore still counts: the reviewer sees it in the diff.
    assert.doesNotMatch(hiding.diff, /node_modules|debug\.log/);

    await sh(`set -e
git update-index --no-assume-unchanged test/math.test.mjs
git checkout -q -- test/math.test.mjs
git config --unset core.excludesFile
rm hidden.mjs app.cfg /tmp/agent-excludes
: > .git/info/exclude`);
    assert.deepEqual((await takeDiff(sandbox, base)).files, expectedFiles);
  });

  test('after the fix: checks met, a hanging check timed out and not met, tests counted', async () => {
    const events: TicketEventData[] = [];
    const evidence = await assembleEvidence({
      sandbox,
      ticket: {
        id: 'tkt_oracle',
        attempt: 2,
        criteria: [...criteria, { text: 'hangs', check: 'sleep 600; echo never' }],
        baseCommit: base,
        usage,
      },
      // Passes, then (agent code: the tests are the repository's) changes a file and tries to
      // point what gets approved at a tree of its own, through a ref, the index and HEAD.
      test: String.raw`node --test && printf 'pwned\n' > src/new.txt && git add -A && evil=$(git write-tree) && git update-ref refs/mags/evidence "$evil" && git update-ref refs/heads/mags/tkt_oracle "$(git commit-tree "$evil" -p HEAD -m evil)" && git reset -q`,
      outcome: { ...liar, claims: [{ criterion: 1, met: false, note: 'no notes yet' }] },
      startedAt: new Date().toISOString(),
      emit: (event) => {
        events.push(event);
      },
      timeouts: { checkMs: 1500 },
    });
    reviewed = evidence;
    assert.deepEqual(
      evidence.criteria.map((criterion) => criterion.status),
      ['met', 'not_met', 'needs_person', 'not_met'],
    );
    assert.equal(evidence.criteria[0]?.exitCode, 0);
    assert.equal(evidence.criteria[0]?.claim, null);
    assert.deepEqual(evidence.criteria[1]?.claim, {
      criterion: 1,
      met: false,
      note: 'no notes yet',
    });
    assert.equal(evidence.criteria[3]?.timedOut, true);
    assert.equal(evidence.criteria[1]?.timedOut, false);
    assert.deepEqual(evidence.tests?.counts, { passed: 1, failed: 0, skipped: 0, format: 'node' });
    assert.deepEqual(evidence.diffStat.files, expectedFiles);
    assert.match(evidence.tree ?? '', /^[0-9a-f]{40}$/);
    assert.equal(await sh('cat src/new.txt'), 'pwned\n');
    const hang = events.find(
      (event) => event.type === 'command' && event.command === 'sleep 600; echo never',
    );
    assert.equal(hang?.type === 'command' && hang.timedOut, true);
    assert.deepEqual(events.at(-1), {
      type: 'evidence',
      summary:
        '1/4 criteria met (1 for a person to judge), tests 1 passed 0 failed, 4 files changed',
    });
  });

  test('approve: one commit on mags/<id> over the base, bundled, applied in a fresh host clone', async () => {
    // What a test run might leave after the evidence was taken (not ignored): not reviewed.
    await sh('echo "lines: 100%" > coverage.txt');
    const headBefore = await sh('git rev-parse HEAD');
    const statusBefore = await sh('git status --porcelain');
    const { commit, tree, bundle } = await commitApproved(sandbox, {
      baseCommit: base,
      branch: 'mags/tkt_oracle',
      message: 'Fix add\n\nTicket tkt_oracle, approved.\n',
      authorName: 'Rita Reviewer',
      authorEmail: 'rita@example.com',
      tree: reviewed.tree,
    });
    assert.match(commit, /^[0-9a-f]{40}$/);
    // Exactly the reviewed tree: not the ref, the branch or the file the test command moved.
    assert.equal(tree, reviewed.tree);
    assert.equal(await sh(`git show ${commit}:src/new.txt`), 'hello\n');
    // The workspace is as it was: same HEAD, same status; only the branch was added.
    assert.equal(await sh('git rev-parse HEAD'), headBefore);
    assert.equal(await sh('git status --porcelain'), statusBefore);
    assert.equal((await sh('git rev-parse refs/heads/mags/tkt_oracle')).trim(), commit);
    assert.equal((await sh(`git rev-parse ${commit}^`)).trim(), base);
    assert.equal(
      await sh(`git log -1 --format='%an <%ae>|%cn <%ce>|%B' ${commit}`),
      'Rita Reviewer <rita@example.com>|Rita Reviewer <rita@example.com>|Fix add\n\nTicket tkt_oracle, approved.\n\n',
    );
    // The commit holds everything the diff shows, and nothing ignored.
    const committed = (await sh(`git diff --no-renames --numstat ${base} ${commit}`)).trim();
    assert.equal(committed, '-\t-\timage.bin\n1\t1\tmath.mjs\n0\t1\told.txt\n1\t0\tsrc/new.txt');
    assert.equal(await sh(`git diff --no-renames ${base} ${commit}`), reviewed.diff);
    assert.equal((await sh(`git rev-parse ${commit}^{tree}`)).trim(), tree);
    // Without a reviewed tree, the working tree as it is now: the coverage file and the change.
    const now = await commitApproved(sandbox, {
      baseCommit: base,
      branch: 'mags/tkt_workspace',
      message: 'as it is now',
      authorName: 'Rita Reviewer',
      authorEmail: 'rita@example.com',
    });
    assert.match(await sh(`git diff --name-only ${base} ${now.commit}`), /^coverage\.txt$/m);
    assert.equal(await sh(`git show ${now.commit}:src/new.txt`), 'pwned\n');

    // A tree id that is not in the repository (pruned after the review), or not a tree: refused.
    await assert.rejects(
      commitApproved(sandbox, {
        baseCommit: base,
        ...approval('mags/tkt_gone'),
        tree: 'ab'.repeat(20),
      }),
      (error: unknown) =>
        error instanceof ReviewedTreeMissingError &&
        error.tree === 'ab'.repeat(20) &&
        /Request changes/.test(error.hint ?? ''),
    );
    await assert.rejects(
      commitApproved(sandbox, { baseCommit: base, ...approval('mags/tkt_blob'), tree: commit }),
      (error: unknown) =>
        error instanceof ReviewedTreeMissingError && /a commit/.test(error.message),
    );
    await assert.rejects(
      commitApproved(sandbox, { baseCommit: base, ...approval('mags/tkt_bad'), tree: 'HEAD' }),
      /is not a tree id/,
    );

    // A fresh clone of the fixture repository on the host.
    const fixturePath = join(hostDirectory, 'fixture.bundle');
    await writeFile(fixturePath, fixtureBundle);
    const clone = join(hostDirectory, 'clone');
    hostGit(hostDirectory, ['clone', '-q', fixturePath, clone]);
    const approvedPath = join(hostDirectory, 'approved.bundle');
    await writeFile(approvedPath, bundle);
    // Exit 0 (hostGit throws otherwise): the clone has what the bundle requires, the base commit.
    const verified = hostGit(clone, ['bundle', 'verify', approvedPath]);
    assert.match(verified, new RegExp(`requires this ref:\\n${base}`));

    const applied = await applyTicketBundle({ cwd: clone, bundle, branch: 'mags/tkt_oracle' });
    assert.equal(applied.commit, commit);
    assert.equal(hostGit(clone, ['rev-parse', 'refs/heads/mags/tkt_oracle']), commit);
    assert.equal(hostGit(clone, ['rev-parse', 'mags/tkt_oracle^{tree}']), tree);
    // Their checkout is untouched: still on main at the base, nothing changed.
    assert.equal(hostGit(clone, ['symbolic-ref', 'HEAD']), 'refs/heads/main');
    assert.equal(hostGit(clone, ['rev-parse', 'HEAD']), base);
    assert.equal(hostGit(clone, ['status', '--porcelain']), '');
    // Again: nothing to do, the same commit.
    assert.deepEqual(await applyTicketBundle({ cwd: clone, bundle, branch: 'mags/tkt_oracle' }), {
      commit,
    });

    // The branch moved elsewhere: refused, unless --force; never while it is checked out.
    hostGit(clone, ['branch', '-f', 'mags/tkt_oracle', 'main']);
    await assert.rejects(
      applyTicketBundle({ cwd: clone, bundle, branch: 'mags/tkt_oracle' }),
      (error: unknown) =>
        error instanceof BranchExistsError && error.existing === base && error.incoming === commit,
    );
    hostGit(clone, ['switch', '-q', 'mags/tkt_oracle']);
    await assert.rejects(
      applyTicketBundle({ cwd: clone, bundle, branch: 'mags/tkt_oracle', force: true }),
      /checked out here/,
    );
    hostGit(clone, ['switch', '-q', 'main']);
    assert.deepEqual(
      await applyTicketBundle({ cwd: clone, bundle, branch: 'mags/tkt_oracle', force: true }),
      { commit },
    );
    assert.equal(hostGit(clone, ['rev-parse', 'mags/tkt_oracle']), commit);

    // A repository without the base commit: it says which commit is missing.
    const unrelated = join(hostDirectory, 'unrelated');
    hostGit(hostDirectory, ['init', '-q', unrelated]);
    hostGit(unrelated, ['commit', '-q', '--allow-empty', '-m', 'other history']);
    await assert.rejects(
      applyTicketBundle({ cwd: unrelated, bundle, branch: 'mags/tkt_oracle' }),
      (error: unknown) =>
        error instanceof BundlePrerequisiteMissingError &&
        error.commits.join() === base &&
        /git fetch/.test(error.hint ?? ''),
    );
    assert.throws(() => hostGit(unrelated, ['rev-parse', '--verify', 'mags/tkt_oracle']));

    // Outside any git repository.
    const plain = join(hostDirectory, 'plain');
    execFileSync('mkdir', [plain]);
    await assert.rejects(
      applyTicketBundle({ cwd: plain, bundle, branch: 'mags/tkt_oracle' }),
      (error: unknown) => error instanceof NotAGitRepositoryError && error.path === plain,
    );
  });
  test("approve runs no hook or signing program of the ticket's repository; the host refuses a bundle that is not the commit made", async () => {
    // What the agent leaves behind (not in any diff): a hook that moves the approved branch to a
    // commit of its own as it is written, and a "signing program" that would run at commit-tree.
    await sh(String.raw`set -e
cat > .git/hooks/reference-transaction <<'HOOK'
#!/bin/sh
[ "$1" = committed ] && [ -z "$FORGING" ] || exit 0
export FORGING=1
touch /tmp/hook-ran
forged=$(git commit-tree "$(git rev-parse HEAD^{tree})" -p HEAD -m forged)
git update-ref refs/heads/mags/tkt_hooked "$forged"
HOOK
chmod +x .git/hooks/reference-transaction
printf '#!/bin/sh\ntouch /tmp/gpg-ran\nexit 1\n' > /tmp/agent-gpg
chmod +x /tmp/agent-gpg
git config commit.gpgSign true
git config gpg.program /tmp/agent-gpg`);
    try {
      const { commit, bundle } = await commitApproved(sandbox, {
        baseCommit: base,
        ...approval('mags/tkt_hooked'),
        tree: reviewed.tree,
      });
      assert.equal(await sh('ls /tmp/hook-ran /tmp/gpg-ran 2>/dev/null; true'), '');
      assert.deepEqual(
        [...readBundleHeader(bundle).refs],
        [['refs/heads/mags/tkt_hooked', commit]],
      );
      assert.equal((await sh('git rev-parse refs/heads/mags/tkt_hooked')).trim(), commit);
      assert.equal((await sh(`git rev-parse ${commit}^{tree}`)).trim(), reviewed.tree);
      verifyApprovedBundle(bundle, { branch: 'mags/tkt_hooked', commit, baseCommit: base });

      // What a hook or a replaced git in the sandbox could hand back instead: another commit on
      // the branch, a second branch, a commit built on another one. The host refuses each.
      const ids = await sh(`set -e
g() { git -c core.hooksPath=/dev/null "$@"; }
forged=$(g commit-tree "${base}^{tree}" -p ${base} -m forged)
g update-ref refs/heads/mags/tkt_forged "$forged"
g bundle create -q /tmp/forged.bundle refs/heads/mags/tkt_forged ^${base}
g bundle create -q /tmp/two.bundle refs/heads/mags/tkt_hooked refs/heads/mags/tkt_forged ^${base}
on=$(g commit-tree ${reviewed.tree} -p "$forged" -m 'on the forged one')
g update-ref refs/heads/mags/tkt_on "$on"
g bundle create -q /tmp/on.bundle refs/heads/mags/tkt_on ^"$forged"
echo "$forged $on"`);
      const [forged = '', on = ''] = ids.trim().split(' ');
      const refused = (pattern: RegExp) => (error: unknown) =>
        error instanceof ApprovedCommitMismatchError && pattern.test(error.message);
      assert.throws(
        () =>
          verifyApprovedBundle(Buffer.from('not a bundle'), { branch: 'mags/tkt_hooked', commit }),
        refused(/not a git bundle/),
      );
      const forgedBundle = await sandbox.readFile('/tmp/forged.bundle');
      assert.throws(
        () => verifyApprovedBundle(forgedBundle, { branch: 'mags/tkt_hooked', commit }),
        refused(/holds refs\/heads\/mags\/tkt_forged/),
      );
      assert.throws(
        () => verifyApprovedBundle(forgedBundle, { branch: 'mags/tkt_forged', commit }),
        refused(new RegExp(`holds refs/heads/mags/tkt_forged at ${forged}, not ${commit}`)),
      );
      const twoBundle = await sandbox.readFile('/tmp/two.bundle');
      const onBundle = await sandbox.readFile('/tmp/on.bundle');
      assert.throws(
        () =>
          verifyApprovedBundle(twoBundle, {
            branch: 'mags/tkt_hooked',
            commit,
          }),
        refused(/not refs\/heads\/mags\/tkt_hooked alone/),
      );
      assert.throws(
        () =>
          verifyApprovedBundle(onBundle, {
            branch: 'mags/tkt_on',
            commit: on,
            baseCommit: base,
          }),
        refused(new RegExp(`builds on ${forged}, not on the base commit`)),
      );
    } finally {
      await sh(
        'rm -f .git/hooks/reference-transaction /tmp/agent-gpg /tmp/hook-ran /tmp/gpg-ran && git config --unset commit.gpgSign && git config --unset gpg.program',
      );
    }
  });

  test('attributes and filters git reads but the diff does not show cannot change the evidence', async () => {
    const before = await takeDiff(sandbox, base);
    const math = (diff: Awaited<ReturnType<typeof takeDiff>>) =>
      diff.files.find((file) => file.path === 'math.mjs');
    assert.deepEqual(math(before), { path: 'math.mjs', added: 1, removed: 1, binary: false });

    // A clean filter (configured in .git/config, which no diff shows) that would put the bug
    // back into the tree while the tests ran on the fixed file; required, so git may not skip it.
    await sh(String.raw`set -e
git config filter.evil.clean 'sed s/a\ +\ b/a\ -\ b/'
git config filter.evil.required true
printf 'math.mjs filter=evil\n' > .gitattributes
cp math.mjs /tmp/math.mjs && rm math.mjs && mv /tmp/math.mjs math.mjs # hashed again, not cached`);
    const filtered = await takeDiff(sandbox, base);
    assert.deepEqual(math(filtered), math(before));
    assert.match(filtered.diff, /\+export const add = \(a, b\) => a \+ b;/);
    assert.equal(await sh(`git cat-file -p ${filtered.tree}:math.mjs`), await sh('cat math.mjs'));
    const approved = await commitApproved(sandbox, {
      baseCommit: base,
      ...approval('mags/tkt_filtered'),
    });
    assert.equal(await sh(`git show ${approved.commit}:math.mjs`), await sh('cat math.mjs'));
    await sh('git config --remove-section filter.evil && rm .gitattributes');

    // The sandbox's global attributes (no config names them: git's default place), and a
    // .gitignore that ignores itself and the .gitattributes beside it: a text file shown as
    // binary, its rules nowhere in the diff.
    await sh(String.raw`set -e
mkdir -p ~/.config/git lib
printf 'math.mjs -diff\n' > ~/.config/git/attributes
printf '.gitignore\n.gitattributes\n' > lib/.gitignore
printf '*.js -diff\n' > lib/.gitattributes
printf 'steal();\n' > lib/evil.js`);
    const hidden = await takeDiff(sandbox, base);
    assert.deepEqual(math(hidden), math(before));
    // Every rule that shaped the diff is in it: the self-ignored files are shown.
    assert.deepEqual(
      hidden.files.filter((file) => file.path.startsWith('lib/')),
      [
        { path: 'lib/.gitattributes', added: 1, removed: 0, binary: false },
        { path: 'lib/.gitignore', added: 2, removed: 0, binary: false },
        { path: 'lib/evil.js', added: null, removed: null, binary: true },
      ],
    );
    assert.match(hidden.diff, /\+\*\.js -diff/);
    await sh('rm -r ~/.config/git/attributes lib');

    // Attributes only .git holds, or a driver its config makes binary: the evidence is refused.
    await sh(`printf '# a comment is fine\\n' > .git/info/attributes`);
    assert.deepEqual(math(await takeDiff(sandbox, base)), math(before));
    await sh(`printf 'math.mjs -diff\\n' >> .git/info/attributes`);
    const refused = (setting: string) => (error: unknown) =>
      error instanceof HiddenGitAttributesError &&
      error.setting === setting &&
      /Request changes/.test(error.hint ?? '');
    await assert.rejects(takeDiff(sandbox, base), refused('.git/info/attributes'));
    await assert.rejects(
      commitApproved(sandbox, { baseCommit: base, ...approval('mags/tkt_info') }),
      refused('.git/info/attributes'),
    );
    await sh('rm .git/info/attributes && git config diff.secret.binary true');
    await assert.rejects(takeDiff(sandbox, base), refused('diff.<driver>.binary'));
    await sh('git config --remove-section diff.secret');
    assert.deepEqual((await takeDiff(sandbox, base)).files, before.files);
  });
});
