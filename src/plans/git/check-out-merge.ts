import type { AgentSandbox } from '../../agents/agent-sandbox.ts';
import { shellQuote } from '../../config/shell-quote.ts';
import { GitCommandError } from '../../tickets/evidence/git-errors.ts';
import {
  gitFiltersOffScript,
  gitScriptExit,
  objectIdPattern,
} from '../../tickets/evidence/git-script.ts';
import { runGitScript } from '../../tickets/evidence/run-git-script.ts';
import { setupTreeRef } from '../../tickets/evidence/write-working-tree.ts';
import { overlayTreeFunction } from '../../tickets/review/overlay-tree-script.ts';
import { checkObjectId } from './plan-git-errors.ts';

export interface CheckOutMergeInput {
  /** The merge to check out. */
  merge: string;
  /** The project's commit the workspace was forked at (its HEAD now). */
  projectCommit: string;
  /** The project's files after its setup on that commit (`setupTree`); null: the commit's. */
  setupTree: string | null;
  /** Another commit whose files with the setup laid over are wanted too (an integration's base). */
  alsoFor?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Moves a fresh fork of the project workspace (HEAD at the project's commit, its files as the
 * setup left them) to a merge of results, in the sandbox's /workspace: the working tree becomes
 * the setup's files with what changed between the project's commit and the merge laid over (the
 * same `overlay` an approval uses), so a file the setup made or changed stays unless a result
 * changed it, and a result's change always wins; HEAD is detached at the merge and the index
 * holds its tree (what the setup changed shows as an unstaged change, as in the project
 * workspace). Files `.gitignore` hides (node_modules) are not touched, nor are files the move
 * does not change (`read-tree --reset` keeps the index's stat data of an unchanged entry, so only
 * changed files are written: an unchanged file stays shared with the project workspace's layer).
 * Returns the id of the working tree's tree (a ticket's `baseTree`, kept at `setupTreeRef`),
 * and with `alsoFor` the same overlay for that commit. The merge may be any commit of the
 * repository: the plan's base commit, when the project has moved on since the plan started.
 */
export async function checkOutMerge(
  sandbox: AgentSandbox,
  input: CheckOutMergeInput,
): Promise<{ tree: string; alsoFor: string | null }> {
  checkObjectId(input.merge, 'commit');
  checkObjectId(input.projectCommit, 'commit');
  if (input.alsoFor !== undefined) checkObjectId(input.alsoFor, 'commit');
  const output = await runGitScript(sandbox, {
    what: 'checkout of the merged results',
    baseCommit: input.merge,
    setupTree: input.setupTree,
    timeoutMs: input.timeoutMs,
    signal: input.signal,
    script: `${overlayTreeFunction}
project=${shellQuote(input.projectCommit)}
also=${shellQuote(input.alsoFor ?? '')}
g cat-file -e "$base^{commit}" 2>"$work/err" || fail ${gitScriptExit.baseMissing} 'merge missing'
g cat-file -e "$project^{commit}" 2>"$work/err" || fail ${gitScriptExit.failed} "the project's commit is missing"
if [ -n "$setup_tree" ]; then
  type=$(g cat-file -t "$setup_tree" 2>"$work/err") || fail ${gitScriptExit.setupTreeMissing} 'setup tree missing'
  [ "$type" = tree ] || { printf 'a %s\\n' "$type" >"$work/err"; fail ${gitScriptExit.setupTreeMissing} 'not a tree'; }
  setup=$setup_tree
else
  setup=$(g rev-parse "$project^{tree}" 2>"$work/err") || fail ${gitScriptExit.failed} "rev-parse the project's tree"
fi
tree=$(overlay "$setup" "$project" "$base" "$work/overlay" 2>"$work/err") || fail ${gitScriptExit.failed} 'overlay the merge on the setup'
${gitFiltersOffScript}
real=$(g rev-parse --git-path index 2>"$work/err") || fail ${gitScriptExit.failed} 'rev-parse --git-path index'
if [ -f "$real" ]; then cp "$real" "$work/move" 2>"$work/err" || fail ${gitScriptExit.failed} 'copy the index'; fi
GIT_INDEX_FILE="$work/move" g read-tree --reset "$setup" 2>"$work/err" || fail ${gitScriptExit.failed} 'read-tree (setup)'
GIT_INDEX_FILE="$work/move" g read-tree --reset -u "$tree" 2>"$work/err" || fail ${gitScriptExit.failed} 'read-tree -u (merge)'
g read-tree --reset "$base" 2>"$work/err" || fail ${gitScriptExit.failed} 'read-tree (index)'
g update-index -q --refresh >/dev/null 2>&1
g update-ref --no-deref -m 'mags: approved results merged' HEAD "$base" 2>"$work/err" || fail ${gitScriptExit.failed} 'update-ref HEAD'
g update-ref ${setupTreeRef} "$tree" 2>"$work/err" || fail ${gitScriptExit.failed} 'update-ref (setup tree)'
extra=-
if [ -n "$also" ]; then
  extra=$(overlay "$setup" "$project" "$also" "$work/also" 2>"$work/err") || fail ${gitScriptExit.failed} 'overlay the base on the setup'
fi
printf '%s\\n' "$tree" "$extra"
`,
  });
  const [tree = '', extra = ''] = output.trim().split('\n').slice(-2);
  if (!objectIdPattern.test(tree) || (extra !== '-' && !objectIdPattern.test(extra))) {
    throw new GitCommandError('read-tree', 0, `printed no tree id: ${output.slice(0, 200)}`);
  }
  return { tree, alsoFor: extra === '-' ? null : extra };
}
