import type { AgentSandbox } from '../../agents/agent-sandbox.ts';
import { shellQuote } from '../../config/shell-quote.ts';
import { GitCommandError } from '../../tickets/evidence/git-errors.ts';
import { objectIdPattern } from '../../tickets/evidence/git-script.ts';
import { runGitScript } from '../../tickets/evidence/run-git-script.ts';
import { type ApprovedResult, MergeConflictError } from '../plan-parts.ts';
import { checkObjectId, ResultCommitMissingError } from './plan-git-errors.ts';

/** Who the platform's merge commits are by: no person merged them. */
export const mergeIdentity = { name: 'mags', email: 'mags@localhost' };

/** Where the project's repository keeps a workspace's merge (it outlives `git gc`). */
export const mergeRef = (workspace: string) => `refs/mags/merges/${workspace}`;

const conflictExit = 77;
const missingExit = 78;
const conflictMarker = 'mags-merge-conflict';

/**
 * Merges approved results, in order, in the repository of the sandbox's /workspace (the project
 * workspace): a result already in another one is left out (a dependent's result holds its
 * dependencies': the integration of A, B and C, where C started from A and B, is C), then the
 * first one left is the start and each next one is merged onto it with `git merge-tree
 * --write-tree` (git's own merge, no working tree or index touched) and a merge commit made with
 * `commit-tree` by `mergeIdentity`; one that holds the merge so far moves it there. The merge is kept at `ref` and returned. Two results changing the
 * same lines are a `MergeConflictError` with the paths git lists, and the ref is not touched.
 * No hook, signing program or filter of the repository runs (`gitScriptPreamble`).
 */
export async function mergeResults(
  sandbox: AgentSandbox,
  input: { results: ApprovedResult[]; ref: string; timeoutMs: number; signal?: AbortSignal },
): Promise<string> {
  const [first] = input.results;
  if (!first) throw new Error('mergeResults needs at least one result');
  for (const result of input.results) checkObjectId(result.commit, 'commit');
  const identity = [
    `GIT_AUTHOR_NAME=${shellQuote(mergeIdentity.name)}`,
    `GIT_AUTHOR_EMAIL=${shellQuote(mergeIdentity.email)}`,
    `GIT_COMMITTER_NAME=${shellQuote(mergeIdentity.name)}`,
    `GIT_COMMITTER_EMAIL=${shellQuote(mergeIdentity.email)}`,
  ];
  const all = input.results.map((result, index) => `${index} ${result.commit}`).join('\n');
  const steps = input.results
    .map(
      (result, index) =>
        `contained ${shellQuote(result.commit)} ${index} || merge_one ${index} ${shellQuote(result.commit)} ${shellQuote(`mags/${result.ticket} (${result.key})`)}`,
    )
    .join('\n');
  const output = await runGitScript(sandbox, {
    what: 'merge of the approved results',
    baseCommit: first.commit,
    timeoutMs: input.timeoutMs,
    signal: input.signal,
    failures: {
      [missingExit]: (text) => {
        const index = Number(/^missing (\d+)/m.exec(text)?.[1] ?? 0);
        const result = input.results[index] ?? first;
        return new ResultCommitMissingError(result.ticket, result.commit, text);
      },
      [conflictExit]: (text) => conflictError(input.results, text),
    },
    script: `export ${identity.join(' ')}
ref=${shellQuote(input.ref)}
g check-ref-format "$ref" 2>"$work/err" || fail 73 "not a ref name: $ref"
all='${all}'
current=
merged=
# Whether result $2 (commit $1) is in another one (or an earlier one is the same commit): a
# dependent's result holds its dependencies', and merging them again would only add merges.
contained() {
  printf '%s\n' "$all" | {
    while read -r index commit; do
      [ "$index" != "$2" ] || continue
      if [ "$commit" = "$1" ]; then [ "$index" -gt "$2" ] || exit 0; continue; fi
      g merge-base --is-ancestor "$1" "$commit" 2>/dev/null && exit 0
    done
    exit 1
  }
}
merge_one() {
  g cat-file -e "$2^{commit}" 2>"$work/err" || fail ${missingExit} "missing $1"
  if [ -z "$current" ]; then current=$2; merged=$3; return 0; fi
  if g merge-base --is-ancestor "$2" "$current" 2>/dev/null; then return 0; fi
  if g merge-base --is-ancestor "$current" "$2" 2>/dev/null; then current=$2; merged=$3; return 0; fi
  g merge-tree --write-tree --name-only -z --no-messages "$current" "$2" >"$work/merge" 2>"$work/err"
  status=$?
  if [ "$status" -eq 1 ]; then printf '${conflictMarker} %s\\n' "$1"; cat "$work/merge"; exit ${conflictExit}; fi
  [ "$status" -eq 0 ] || fail 73 "merge-tree of $3"
  tree=$(head -z -n 1 "$work/merge" | tr -d '\\0')
  [ "$(g cat-file -t "$tree" 2>"$work/err")" = tree ] || fail 73 "merge-tree of $3 printed no tree"
  current=$(printf 'Merge %s\\n\\nInto: %s\\n' "$3" "$merged" | g commit-tree --no-gpg-sign "$tree" -p "$current" -p "$2" 2>"$work/err") || fail 73 "commit-tree of $3"
  merged="$merged, $3"
}
${steps}
g update-ref -m 'mags: approved results merged' "$ref" "$current" 2>"$work/err" || fail 73 'update-ref'
printf '%s\\n' "$current"
`,
  });
  const commit = output.trim().split('\n').at(-1) ?? '';
  if (!objectIdPattern.test(commit)) {
    throw new GitCommandError('merge', 0, `printed no commit id: ${output.slice(0, 200)}`);
  }
  return commit;
}

/** The conflict as the script printed it: the marker and the result's index, then git's list. */
function conflictError(results: ApprovedResult[], output: string): MergeConflictError {
  const start = output.lastIndexOf(`${conflictMarker} `);
  const newline = output.indexOf('\n', start);
  const index = Number(output.slice(start + conflictMarker.length + 1, newline));
  // `<tree>\0<path>\0<path>\0...`: the paths git could not merge, each once.
  const [, ...paths] = output.slice(newline + 1).split('\0');
  const files = [...new Set(paths.filter((path) => path !== ''))];
  const result = results[index];
  const before = results
    .slice(0, index)
    .map((earlier) => earlier.key)
    .join(', ');
  return new MergeConflictError(
    `Merging ticket ${result?.key ?? '?'} (${result?.ticket ?? '?'}) onto ${before || 'the others'}`,
    files,
  );
}
