/**
 * The preamble of every git script run in a ticket's sandbox. The repository belongs to whoever
 * imported it, so ownership checks are off (`safe.directory`); an agent's `git replace` or
 * fsmonitor hook, or its settings that make git skip files, must not change what the platform
 * reads (`GIT_NO_REPLACE_OBJECTS`, `core.fsmonitor`, `core.ignoreStat`, `core.sparseCheckout`); stderr goes to a file that is printed only when a step fails, so the
 * output a parser reads is git's stdout alone.
 */
export const gitScriptPreamble = `
export GIT_NO_REPLACE_OBJECTS=1 GIT_TERMINAL_PROMPT=0 GIT_OPTIONAL_LOCKS=0
g() { git -c safe.directory='*' -c core.fsmonitor=false -c core.ignoreStat=false -c core.sparseCheckout=false -c core.quotePath=false "$@"; }
work=$(mktemp -d) || exit 70
trap 'rm -rf "$work"' EXIT
fail() { printf '%s\\n' "$2"; cat "$work/err"; exit "$1"; }
g rev-parse --git-dir >/dev/null 2>"$work/err" || fail 71 'not a git repository'
`;

/** Exit codes of the scripts' `fail` steps. */
export const gitScriptExit = {
  notARepository: 71,
  baseMissing: 72,
  failed: 73,
  treeMissing: 74,
} as const;

/** A whole object id as git prints it: SHA-1 (40 hex digits) or SHA-256 (64). */
export const objectIdPattern = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * A temporary index holding the whole working tree (tracked changes, untracked files, deletions;
 * ignored files left out), so that the repository's own index and working tree stay untouched.
 * Starting from a copy of the real index keeps git's stat cache: only changed files are hashed;
 * but an index whose entries were marked assume-unchanged or skip-worktree (by the agent's
 * `git update-index`) would hide their changes, so then it starts from the base's tree instead.
 * Untracked files are those the repository's `.gitignore` files do not ignore, which the reviewer
 * sees in the diff: `.git/info/exclude` and `core.excludesFile` hide nothing (the tests could load
 * a file the reviewer never saw). Pathspecs are literal: a file named `:(glob)*` is that file.
 */
export const gitTemporaryIndexScript = `
g cat-file -e "$base^{commit}" 2>"$work/err" || fail 72 'base commit missing'
real=$(g rev-parse --git-path index 2>"$work/err") || fail 73 'rev-parse --git-path index'
export GIT_INDEX_FILE="$work/index"
if [ -f "$real" ]; then
  cp "$real" "$GIT_INDEX_FILE" 2>"$work/err" || fail 73 'copy the index'
  g ls-files -v >"$work/entries" 2>"$work/err" || fail 73 'ls-files -v'
  if grep -q '^[a-zS] ' "$work/entries"; then rm -f "$GIT_INDEX_FILE"; fi
fi
if [ ! -f "$GIT_INDEX_FILE" ]; then
  g read-tree "$base" 2>"$work/err" || fail 73 'read-tree'
fi
g add -u 2>"$work/err" || fail 73 'add -u'
g -c core.excludesFile=/dev/null ls-files -z --others --exclude-per-directory=.gitignore >"$work/untracked" 2>"$work/err" || fail 73 'ls-files --others'
GIT_LITERAL_PATHSPECS=1 g add -f --pathspec-from-file="$work/untracked" --pathspec-file-nul 2>"$work/err" || fail 73 'add the untracked files'
`;
