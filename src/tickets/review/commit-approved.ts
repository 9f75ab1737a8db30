import { randomBytes } from 'node:crypto';
import type { AgentSandbox } from '../../agents/agent-sandbox.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { GitCommandError } from '../evidence/git-errors.ts';
import { gitTemporaryIndexScript } from '../evidence/git-script.ts';
import { runGitScript } from '../evidence/run-git-script.ts';
import { shellQuote } from '../evidence/shell-quote.ts';
import { evidenceRef } from '../evidence/take-diff.ts';

export const defaultCommitTimeoutMs = 300_000;
/** A bundle is read out of the sandbox whole and stored in the state database; past this, approving fails (413). */
const maxBundleBytes = 256 * 1024 * 1024;

/** Branch names `mags ticket approve` makes (`mags/<ticket id>`), checked again by git. */
const branchPattern = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

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
   * `evidence` (the default): the tree the last evidence's diff was taken from (`evidenceRef`),
   * what the reviewer saw, whatever the tests and checks wrote after it; the working tree when no
   * evidence was recorded. `workspace`: the working tree as it is now.
   */
  from?: 'evidence' | 'workspace';
  repository?: string;
  timeoutMs?: number;
}

/**
 * Turns an approved ticket's work into one commit on `refs/heads/<branch>` whose parent is the
 * base commit and whose tree is everything the reviewed diff showed (committed by the agent or
 * not, untracked files included, ignored ones left out), authored and committed by the given person;
 * then a git bundle of that branch with the base commit as its prerequisite (the user's clone has
 * it), read out of the sandbox. The workspace's HEAD, index and working tree are left as they were
 * (a temporary index, `commit-tree` and `update-ref`): only the branch and its objects are added.
 */
export async function commitApproved(
  sandbox: AgentSandbox,
  input: CommitApprovedInput,
): Promise<{ commit: string; tree: string; bundle: Buffer }> {
  if (!branchPattern.test(input.branch) || input.branch.includes('..')) {
    throw new InvalidInputError(`${JSON.stringify(input.branch)} is not a branch name.`, {
      hint: 'Ticket branches are named mags/<ticket id>.',
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
      what: 'commit of the approved ticket',
      baseCommit: input.baseCommit,
      repository: input.repository,
      timeoutMs: input.timeoutMs ?? defaultCommitTimeoutMs,
      script: `branch=${shellQuote(input.branch)}
message=${shellQuote(messagePath)}
bundle=${shellQuote(bundlePath)}
from=${shellQuote(input.from ?? 'evidence')}
evidence=${shellQuote(evidenceRef)}
${identity}
g check-ref-format "refs/heads/$branch" 2>"$work/err" || fail 73 "not a branch name: $branch"
g cat-file -e "$base^{commit}" 2>"$work/err" || fail 72 'base commit missing'
if [ "$from" = evidence ] && tree=$(g rev-parse --verify --quiet "$evidence^{tree}"); then :; else
${gitTemporaryIndexScript}
tree=$(g write-tree 2>"$work/err") || fail 73 'write-tree'
fi
commit=$(g commit-tree "$tree" -p "$base" -F "$message" 2>"$work/err") || fail 73 'commit-tree'
g update-ref -m 'mags: ticket approved' "refs/heads/$branch" "$commit" 2>"$work/err" || fail 73 'update-ref'
g bundle create "$bundle" "refs/heads/$branch" "^$base" 2>"$work/err" || fail 73 'bundle create'
printf '%s\\n' "$tree" "$commit"
`,
    });
    const [tree = '', commit = ''] = output.trim().split('\n').slice(-2);
    if (!/^[0-9a-f]{40,64}$/.test(commit)) {
      throw new GitCommandError('commit-tree', 0, `printed no commit id: ${output}`);
    }
    const bundle = await sandbox.readFile(bundlePath, { maxBytes: maxBundleBytes });
    return { commit, tree, bundle };
  } finally {
    await sandbox
      .exec(`rm -f ${shellQuote(messagePath)} ${shellQuote(bundlePath)}`, { timeoutMs: 30_000 })
      .catch(() => {});
  }
}
