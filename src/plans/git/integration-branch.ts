import { randomBytes } from 'node:crypto';
import type { AgentSandbox } from '../../agents/agent-sandbox.ts';
import { shellQuote } from '../../config/shell-quote.ts';
import { checkBranchName } from '../../tickets/evidence/branch-name.ts';
import { GitCommandError } from '../../tickets/evidence/git-errors.ts';
import { gitScriptExit, objectIdPattern } from '../../tickets/evidence/git-script.ts';
import { runGitScript } from '../../tickets/evidence/run-git-script.ts';
import { verifyApprovedBundle } from '../../tickets/review/verify-approved-bundle.ts';
import { checkObjectId, IntegrationCommitError } from './plan-git-errors.ts';

/** A bundle is read out of the sandbox whole and stored in the state database (as a ticket's). */
const maxBundleBytes = 256 * 1024 * 1024;
const { failed, notOnBase: notOnBaseExit } = gitScriptExit;

/**
 * Makes `branch` point at the plan's integration `commit` in the repository of the sandbox's
 * /workspace (the project workspace, where the merge was made) and returns a git bundle of it
 * with `baseCommit` as its prerequisite, read out and checked on the host: that branch alone, at
 * that commit, built on the base alone. The commit must be a descendant of the base and not the
 * base itself (a bundle of nothing cannot be made). No hook of the repository runs.
 */
export async function makeIntegrationBranch(
  sandbox: AgentSandbox,
  input: { branch: string; commit: string; baseCommit: string; timeoutMs: number },
): Promise<{ commit: string; bundle: Buffer }> {
  checkBranchName(input.branch);
  checkObjectId(input.commit, 'commit');
  checkObjectId(input.baseCommit, 'commit');
  const bundlePath = `/tmp/mags-plan-${randomBytes(8).toString('hex')}.bundle`;
  try {
    const output = await runGitScript(sandbox, {
      what: "the plan's branch",
      baseCommit: input.baseCommit,
      timeoutMs: input.timeoutMs,
      failures: {
        [notOnBaseExit]: (text) =>
          new IntegrationCommitError(
            input.commit,
            input.baseCommit,
            text.trim().split('\n')[0] ?? 'it is not on the base',
          ),
      },
      script: `branch=${shellQuote(input.branch)}
commit=${shellQuote(input.commit)}
bundle=${shellQuote(bundlePath)}
g check-ref-format "refs/heads/$branch" 2>"$work/err" || fail ${failed} "not a branch name: $branch"
g cat-file -e "$commit^{commit}" 2>"$work/err" || fail ${notOnBaseExit} "the commit is not in the project's repository"
g cat-file -e "$base^{commit}" 2>"$work/err" || fail ${notOnBaseExit} "the base commit $base is not in the project's repository"
[ "$commit" != "$base" ] || fail ${notOnBaseExit} "it is the base commit itself: the plan changed nothing"
g merge-base --is-ancestor "$base" "$commit" 2>"$work/err" || fail ${notOnBaseExit} "it is not built on the base commit $base"
g update-ref -m 'mags: plan approved' "refs/heads/$branch" "$commit" 2>"$work/err" || fail ${failed} 'update-ref'
g bundle create "$bundle" "refs/heads/$branch" "^$base" 2>"$work/err" || fail ${failed} 'bundle create'
g rev-parse "refs/heads/$branch^{commit}" 2>"$work/err" || fail ${failed} 'rev-parse'
`,
    });
    const commit = output.trim().split('\n').at(-1) ?? '';
    if (!objectIdPattern.test(commit)) {
      throw new GitCommandError('rev-parse', 0, `printed no commit id: ${output.slice(0, 200)}`);
    }
    const bundle = await sandbox.readFile(bundlePath, { maxBytes: maxBundleBytes });
    verifyApprovedBundle(bundle, {
      branch: input.branch,
      commit: input.commit,
      baseCommit: input.baseCommit,
    });
    return { commit, bundle };
  } finally {
    await sandbox.exec(`rm -f ${shellQuote(bundlePath)}`, { timeoutMs: 30_000 }).catch(() => {});
  }
}
