import type { AgentSandbox } from '../../agents/agent-sandbox.ts';
import { shellQuote } from '../../config/shell-quote.ts';
import { GitCommandError } from '../../tickets/evidence/git-errors.ts';
import { gitScriptExit, objectIdPattern } from '../../tickets/evidence/git-script.ts';
import { runGitScript } from '../../tickets/evidence/run-git-script.ts';
import { type ApprovedResult, MergeConflictError } from '../plan-parts.ts';
import { checkObjectId, ResultCommitMissingError } from './plan-git-errors.ts';

/** Who the platform's merge commits are by: no person merged them. */
export const mergeIdentity = { name: 'mags', email: 'mags@localhost' };

/** Where the project's repository keeps a workspace's merge (it outlives `git gc`). */
export const mergeRef = (workspace: string) => `refs/mags/merges/${workspace}`;

/** What the script prints before the data the host reads: the lines after it are git's. */
const conflictMarker = 'mags-merge-conflict';
const resultMarker = 'mags-merge-result';

/** The merge made: its commit, and the paths left with conflict markers (`allowConflicts`). */
export interface MergedResults {
  commit: string;
  conflicts: string[];
}

/**
 * Merges approved results, in order, in the repository of the sandbox's /workspace (the project
 * workspace): a result already in another one is left out (a dependent's result holds its
 * dependencies': the integration of A, B and C, where C started from A and B, is C), then the
 * first one left is the start and each next one is merged onto it with `git merge-tree
 * --write-tree` (git's own merge, no working tree or index touched) and a merge commit made with
 * `commit-tree` by `mergeIdentity`; one that holds the merge so far moves it there. The merge is
 * kept at `ref` and returned. Two results changing the same lines are a `MergeConflictError`
 * with the paths git lists, and the ref is not touched; with `allowConflicts` the merge is made
 * all the same (merge-tree writes the files with conflict markers, and the commit's message
 * says so) and the paths are returned, for a ticket to resolve. No hook, signing program or
 * filter of the repository runs (`gitScriptPreamble`).
 */
export async function mergeResults(
  sandbox: AgentSandbox,
  input: {
    results: ApprovedResult[];
    ref: string;
    timeoutMs: number;
    signal?: AbortSignal;
    allowConflicts?: boolean;
  },
): Promise<MergedResults> {
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
  const { failed, mergeConflict, resultMissing } = gitScriptExit;
  const output = await runGitScript(sandbox, {
    what: 'merge of the approved results',
    baseCommit: first.commit,
    timeoutMs: input.timeoutMs,
    signal: input.signal,
    failures: {
      [resultMissing]: (text) => {
        const index = Number(/^missing (\d+)/m.exec(text)?.[1] ?? 0);
        const result = input.results[index] ?? first;
        return new ResultCommitMissingError(result.ticket, result.commit, text);
      },
      [mergeConflict]: (text) => conflictError(input.results, text),
    },
    script: `export ${identity.join(' ')}
ref=${shellQuote(input.ref)}
allow=${input.allowConflicts ? 1 : 0}
g check-ref-format "$ref" 2>"$work/err" || fail ${failed} "not a ref name: $ref"
all=${shellQuote(all)}
current=
merged=
: >"$work/conflicts"
# Whether result $2 (commit $1) is in another one (or an earlier one is the same commit): a
# dependent's result holds its dependencies', and merging them again would only add merges.
contained() {
  printf '%s\\n' "$all" | {
    while read -r index commit; do
      [ "$index" != "$2" ] || continue
      if [ "$commit" = "$1" ]; then [ "$index" -gt "$2" ] || exit 0; continue; fi
      g merge-base --is-ancestor "$1" "$commit" 2>/dev/null && exit 0
    done
    exit 1
  }
}
merge_one() {
  g cat-file -e "$2^{commit}" 2>"$work/err" || fail ${resultMissing} "missing $1"
  if [ -z "$current" ]; then current=$2; merged=$3; return 0; fi
  if g merge-base --is-ancestor "$2" "$current" 2>/dev/null; then return 0; fi
  if g merge-base --is-ancestor "$current" "$2" 2>/dev/null; then current=$2; merged=$3; return 0; fi
  # -z: <tree>NUL, then on a conflict each conflicting path and NUL (the paths are the agents').
  g merge-tree --write-tree --name-only -z --no-messages "$current" "$2" >"$work/merge" 2>"$work/err"
  status=$?
  note=
  if [ "$status" -eq 1 ]; then
    if [ "$allow" != 1 ]; then printf '${conflictMarker} %s\\n' "$1"; cat "$work/merge"; exit ${mergeConflict}; fi
    # The tree holds the files with conflict markers: kept, and the paths given back.
    # git's output as it is, then an empty field (no path is empty) before the next one's.
    { cat "$work/merge"; printf '\\000\\000'; } >>"$work/conflicts"
    note='

Conflicts left in the files (with markers) for the ticket to resolve.'
  elif [ "$status" -ne 0 ]; then
    fail ${failed} "merge-tree of $3"
  fi
  # The tree id is the first NUL-ended field (tr and sed: POSIX, unlike head -z).
  tree=$(tr '\\000' '\\n' <"$work/merge" | sed -n 1p)
  [ "$(g cat-file -t "$tree" 2>"$work/err")" = tree ] || fail ${failed} "merge-tree of $3 printed no tree"
  current=$(printf 'Merge %s\\n\\nInto: %s%s\\n' "$3" "$merged" "$note" | g commit-tree --no-gpg-sign "$tree" -p "$current" -p "$2" 2>"$work/err") || fail ${failed} "commit-tree of $3"
  merged="$merged, $3"
}
${steps}
g update-ref -m 'mags: approved results merged' "$ref" "$current" 2>"$work/err" || fail ${failed} 'update-ref'
printf '${resultMarker} %s\\n' "$current"
cat "$work/conflicts"
`,
  });
  return parseMerged(output);
}

/**
 * `<resultMarker> <commit>\n`, then per merge left with conflicts git's `<tree>NUL<path>NUL...`
 * and an empty field: the conflicting paths, each once, in git's order.
 */
function parseMerged(output: string): MergedResults {
  const start = output.indexOf(`${resultMarker} `);
  const newline = start < 0 ? -1 : output.indexOf('\n', start);
  const commit = newline < 0 ? '' : output.slice(start + resultMarker.length + 1, newline);
  if (!objectIdPattern.test(commit)) {
    throw new GitCommandError('merge', 0, `printed no commit id: ${output.slice(0, 200)}`);
  }
  const paths = output
    .slice(newline + 1)
    .split('\0\0')
    .flatMap((block) => {
      // The block's first field is the merge's tree, the rest its paths.
      const [tree, ...rest] = block.split('\0').filter((field) => field !== '');
      return tree !== undefined && objectIdPattern.test(tree) ? rest : [];
    });
  return { commit, conflicts: [...new Set(paths)] };
}

/** Paths each ended by NUL, each once, in git's order. */
const nulPaths = (text: string) => [...new Set(text.split('\0').filter((path) => path !== ''))];

/**
 * The conflict as the script printed it: the marker and the result's index, then git's output
 * (`<tree>NUL<path>NUL...`). The marker is printed first and the paths after it are the agents'
 * (a file could be named like the marker), so the first marker is the one.
 */
export function conflictError(results: ApprovedResult[], output: string): MergeConflictError {
  const start = output.indexOf(`${conflictMarker} `);
  const newline = start < 0 ? -1 : output.indexOf('\n', start);
  const indexText = newline < 0 ? '' : output.slice(start + conflictMarker.length + 1, newline);
  const index = /^\d+$/.test(indexText) ? Number(indexText) : -1;
  const result = index >= 0 ? results[index] : undefined;
  const [, ...paths] = newline < 0 ? [] : output.slice(newline + 1).split('\0');
  const before = result
    ? results
        .slice(0, index)
        .map((earlier) => earlier.key)
        .join(', ')
    : '';
  return new MergeConflictError(
    result
      ? `Merging ticket ${result.key} (${result.ticket}) onto ${before || 'the others'}`
      : 'Merging the results',
    nulPaths(paths.join('\0')),
  );
}
