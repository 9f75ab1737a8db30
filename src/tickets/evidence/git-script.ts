/**
 * The preamble of every git script run in a ticket's sandbox. The repository belongs to whoever
 * imported it, so ownership checks are off (`safe.directory`); an agent's `git replace` or
 * fsmonitor hook must not change what the platform reads (`GIT_NO_REPLACE_OBJECTS`,
 * `core.fsmonitor=false`); stderr goes to a file that is printed only when a step fails, so the
 * output a parser reads is git's stdout alone.
 */
export const gitScriptPreamble = `
export GIT_NO_REPLACE_OBJECTS=1 GIT_TERMINAL_PROMPT=0 GIT_OPTIONAL_LOCKS=0
g() { git -c safe.directory='*' -c core.fsmonitor=false -c core.quotePath=false "$@"; }
work=$(mktemp -d) || exit 70
trap 'rm -rf "$work"' EXIT
fail() { printf '%s\\n' "$2"; cat "$work/err"; exit "$1"; }
g rev-parse --git-dir >/dev/null 2>"$work/err" || fail 71 'not a git repository'
`;

/** Exit codes of the scripts' `fail` steps. */
export const gitScriptExit = { notARepository: 71, baseMissing: 72, failed: 73 } as const;

/**
 * A temporary index holding the whole working tree (tracked changes, untracked files, deletions;
 * ignored files left out), so that the repository's own index and working tree stay untouched.
 * Starting from a copy of the real index keeps git's stat cache: only changed files are hashed.
 */
export const gitTemporaryIndexScript = `
g cat-file -e "$base^{commit}" 2>"$work/err" || fail 72 'base commit missing'
real=$(g rev-parse --git-path index 2>"$work/err") || fail 73 'rev-parse --git-path index'
export GIT_INDEX_FILE="$work/index"
if [ -f "$real" ]; then
  cp "$real" "$GIT_INDEX_FILE" 2>"$work/err" || fail 73 'copy the index'
else
  g read-tree "$base" 2>"$work/err" || fail 73 'read-tree'
fi
g add -A 2>"$work/err" || fail 73 'add -A'
`;
