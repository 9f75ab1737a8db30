import { randomBytes } from 'node:crypto';
import type { AgentSandbox } from '../../agents/agent-sandbox.ts';
import { shellQuote } from '../../config/shell-quote.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { checkBranchName } from '../evidence/branch-name.ts';
import { GitCommandError, ReviewedTreeMissingError } from '../evidence/git-errors.ts';
import {
  gitAgainstScript,
  gitScriptExit,
  gitTemporaryIndexScript,
  objectIdPattern,
} from '../evidence/git-script.ts';
import { runGitScript } from '../evidence/run-git-script.ts';
import { overlayTreeFunction, reviewedRef } from './overlay-tree-script.ts';
import { verifyApprovedBundle } from './verify-approved-bundle.ts';

export const defaultCommitTimeoutMs = 300_000;
/** A bundle is read out of the sandbox whole and stored in the state database; past this, approving fails (413). */
const maxBundleBytes = 256 * 1024 * 1024;

export interface CommitApprovedInput {
  baseCommit: string;
  /** `mags/<ticket id>`. */
  branch: string;
  message: string;
  authorName: string;
  authorEmail: string;
  /** Author and committer date (ISO 8601); now when absent. */
  date?: string;
  /**
   * The tree the reviewed evidence's diff shows (`Evidence.tree`): committed exactly, whatever
   * the tests, the checks or anything else in the sandbox did after the diff was taken. Without
   * one (no evidence), the working tree as it is now.
   */
  tree?: string | null;
  /**
   * The ticket's `baseTree` (the project's files after its setup, which the diff was taken
   * against). When it is not the base commit's tree, the commit holds the base commit's files
   * with only what changed between it and the reviewed tree laid over them.
   */
  setupTree?: string | null;
  repository?: string;
  timeoutMs?: number;
}

export interface ApprovedCommit {
  commit: string;
  /** The committed tree: the reviewed one, or the base's with the reviewed changes laid over. */
  tree: string;
  /**
   * With a setup that changed files: the commit on `reviewedRef(branch)` in the bundle, whose
   * tree is the reviewed one and whose parent's is the setup's, so that the project's workspace
   * can compute the same overlay and check the commit's tree against it. Otherwise null.
   */
  reviewedCommit: string | null;
  bundle: Buffer;
}

/**
 * Turns an approved ticket's work into one commit on `refs/heads/<branch>` whose parent is the
 * base commit and whose tree is the reviewed one (`tree`: the id the evidence's diff was taken
 * from, given by the caller, never read from a ref the agent's code could move), authored and
 * committed by the given person;
 * then a git bundle of that branch with the base commit as its prerequisite (the user's clone has
 * it), read out of the sandbox. The workspace's HEAD, index and working tree are left as they were
 * (`commit-tree` and `update-ref`): only the branch and its objects are added; no hook or signing
 * program of the repository runs (`gitScriptPreamble`, `--no-gpg-sign`), and the bundle is
 * checked on the host to hold that branch alone, at that commit. An id names its
 * content: an object file changed in the sandbox cannot pass as the reviewed tree, since the
 * receiving git (`git fetch` from the bundle) hashes every object again.
 */
export async function commitApproved(
  sandbox: AgentSandbox,
  input: CommitApprovedInput,
): Promise<ApprovedCommit> {
  checkBranchName(input.branch);
  const reviewed = input.tree ?? null;
  if (reviewed !== null && !objectIdPattern.test(reviewed)) {
    throw new InvalidInputError(`${JSON.stringify(reviewed)} is not a tree id.`, {
      hint: 'The tree is the id git write-tree printed for the reviewed diff (the evidence has it).',
    });
  }
  const token = randomBytes(8).toString('hex');
  const messagePath = `/tmp/mags-commit-message-${token}`;
  const bundlePath = `/tmp/mags-approved-${token}.bundle`;
  // Through a file: a message may be larger than one argument of a command may be (128 KiB).
  await sandbox.writeFile(messagePath, input.message);
  const identity = [
    ['GIT_AUTHOR_NAME', input.authorName],
    ['GIT_AUTHOR_EMAIL', input.authorEmail],
    ['GIT_COMMITTER_NAME', input.authorName],
    ['GIT_COMMITTER_EMAIL', input.authorEmail],
    ...(input.date
      ? [
          ['GIT_AUTHOR_DATE', input.date],
          ['GIT_COMMITTER_DATE', input.date],
        ]
      : []),
  ]
    .map(([name, value]) => `export ${name}=${shellQuote(value ?? '')}`)
    .join('\n');
  try {
    const output = await runGitScript(sandbox, {
      failures: reviewed
        ? {
            [gitScriptExit.treeMissing]: (output) => new ReviewedTreeMissingError(reviewed, output),
          }
        : undefined,
      what: 'commit of the approved ticket',
      baseCommit: input.baseCommit,
      setupTree: input.setupTree,
      repository: input.repository,
      timeoutMs: input.timeoutMs ?? defaultCommitTimeoutMs,
      script: `branch=${shellQuote(input.branch)}
reviewed_ref=${shellQuote(reviewedRef(input.branch))}
message=${shellQuote(messagePath)}
bundle=${shellQuote(bundlePath)}
reviewed=${shellQuote(reviewed ?? '')}
${identity}
g check-ref-format "refs/heads/$branch" 2>"$work/err" || fail 73 "not a branch name: $branch"
g cat-file -e "$base^{commit}" 2>"$work/err" || fail 72 'base commit missing'
if [ -n "$reviewed" ]; then
  type=$(g cat-file -t "$reviewed" 2>"$work/err") || fail ${gitScriptExit.treeMissing} 'reviewed tree missing'
  [ "$type" = tree ] || { printf 'a %s\n' "$type" >"$work/err"; fail ${gitScriptExit.treeMissing} 'not a tree'; }
  tree=$reviewed
else
${gitTemporaryIndexScript}
tree=$(g write-tree 2>"$work/err") || fail 73 'write-tree'
fi
${gitAgainstScript}${overlayTreeFunction}
final=$tree
reviewed_commit=-
if [ "$against" != "$base" ] && [ "$(g rev-parse "$base^{tree}" 2>"$work/err")" != "$against" ]; then
  final=$(overlay "$base" "$against" "$tree" "$work/overlay-index" 2>"$work/err") || fail 73 'overlay the reviewed changes on the base'
  setup_commit=$(g commit-tree --no-gpg-sign "$against" -p "$base" -m "mags: the project's files after its setup" 2>"$work/err") || fail 73 'commit-tree (setup)'
  reviewed_commit=$(g commit-tree --no-gpg-sign "$tree" -p "$setup_commit" -m 'mags: the reviewed files' 2>"$work/err") || fail 73 'commit-tree (reviewed)'
  g update-ref "$reviewed_ref" "$reviewed_commit" 2>"$work/err" || fail 73 'update-ref (reviewed)'
fi
commit=$(g commit-tree --no-gpg-sign "$final" -p "$base" -F "$message" 2>"$work/err") || fail 73 'commit-tree'
g update-ref -m 'mags: ticket approved' "refs/heads/$branch" "$commit" 2>"$work/err" || fail 73 'update-ref'
if [ "$reviewed_commit" = - ]; then
  g bundle create "$bundle" "refs/heads/$branch" "^$base" 2>"$work/err" || fail 73 'bundle create'
else
  g bundle create "$bundle" "refs/heads/$branch" "$reviewed_ref" "^$base" 2>"$work/err" || fail 73 'bundle create'
fi
printf '%s\\n' "$final" "$commit" "$reviewed_commit"
`,
    });
    const [tree = '', commit = '', reviewedOutput = ''] = output.trim().split('\n').slice(-3);
    const reviewedCommit = reviewedOutput === '-' ? null : reviewedOutput;
    if (
      !objectIdPattern.test(commit) ||
      (reviewedCommit && !objectIdPattern.test(reviewedCommit))
    ) {
      throw new GitCommandError('commit-tree', 0, `printed no commit id: ${output}`);
    }
    const bundle = await sandbox.readFile(bundlePath, { maxBytes: maxBundleBytes });
    verifyApprovedBundle(bundle, {
      branch: input.branch,
      commit,
      baseCommit: input.baseCommit,
      reviewedCommit,
    });
    return { commit, tree, reviewedCommit, bundle };
  } finally {
    await sandbox
      .exec(`rm -f ${shellQuote(messagePath)} ${shellQuote(bundlePath)}`, { timeoutMs: 30_000 })
      .catch(() => {});
  }
}
