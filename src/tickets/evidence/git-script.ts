/**
 * The preamble of every git script run in a ticket's sandbox. The repository belongs to whoever
 * imported it, so ownership checks are off (`safe.directory`). Everything in the sandbox but the
 * repository's objects was in the agent's reach, so nothing it could have configured may run a
 * command or change what the platform reads: no hook runs (`core.hooksPath`: a
 * reference-transaction hook could move the approved branch), no fsmonitor, no `git replace`;
 * the system and global config and attributes are not read (`GIT_CONFIG_NOSYSTEM`,
 * `GIT_CONFIG_GLOBAL`, `GIT_ATTR_NOSYSTEM`, `core.attributesFile`); no end-of-line conversion by
 * config (`core.autocrlf`); settings that make git skip files are off (`core.ignoreStat`,
 * `core.sparseCheckout`). The repository's own clean filters are switched off by
 * `gitTemporaryIndexScript`. stderr goes to a file that is printed only when a step fails, so
 * the output a parser reads is git's stdout alone.
 */
export const gitScriptPreamble = `
export GIT_NO_REPLACE_OBJECTS=1 GIT_TERMINAL_PROMPT=0 GIT_OPTIONAL_LOCKS=0
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_ATTR_NOSYSTEM=1
unset GIT_CONFIG_COUNT GIT_CONFIG_PARAMETERS GIT_DIR GIT_WORK_TREE GIT_COMMON_DIR GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_ATTR_SOURCE
g() { git -c safe.directory='*' -c core.hooksPath=/dev/null -c core.fsmonitor=false -c core.attributesFile=/dev/null -c core.autocrlf=false -c core.ignoreStat=false -c core.sparseCheckout=false -c core.quotePath=false "$@"; }
work=$(mktemp -d) || exit 70
trap 'rm -rf "$work"' EXIT
fail() { printf '%s\\n' "$2"; cat "$work/err"; exit "$1"; }
g rev-parse --git-dir >/dev/null 2>"$work/err" || fail 71 'not a git repository'
`;

/** Exit codes of the scripts' `fail` steps, one list so that no two scripts' codes collide. */
export const gitScriptExit = {
  notARepository: 71,
  baseMissing: 72,
  failed: 73,
  treeMissing: 74,
  hiddenAttributes: 75,
  setupTreeMissing: 76,
  /** A plan's merge: two results change the same lines. */
  mergeConflict: 77,
  /** A plan's merge: an approved result's commit is not in the repository. */
  resultMissing: 78,
  /** A plan's branch: the integration is not on the plan's base commit. */
  notOnBase: 79,
} as const;

/**
 * The repository's clean, smudge and process filters off for what follows (its config, which an
 * agent or a setup could write, names their commands, and a filter could put in a tree, or write
 * to a file, something else than what is there): files are read and written as they are.
 */
export const gitFiltersOffScript = `g config --name-only --get-regexp '^filter[.]' >"$work/filters" 2>/dev/null
n=0
while IFS= read -r key; do
  case "$key" in
    *.clean|*.smudge|*.process) value= ;;
    *.required) value=false ;;
    *) continue ;;
  esac
  export "GIT_CONFIG_KEY_$n=$key" "GIT_CONFIG_VALUE_$n=$value"
  n=$((n + 1))
done <"$work/filters"
export GIT_CONFIG_COUNT=$n`;

/**
 * Sets `$against`, what the work is compared with: the tree `$setup_tree` (the project's files
 * after its setup) when it is set, checked to be a tree in the repository; else the base commit.
 */
export const gitAgainstScript = `
if [ -n "$setup_tree" ]; then
  type=$(g cat-file -t "$setup_tree" 2>"$work/err") || fail ${gitScriptExit.setupTreeMissing} 'setup tree missing'
  [ "$type" = tree ] || { printf 'a %s\\n' "$type" >"$work/err"; fail ${gitScriptExit.setupTreeMissing} 'not a tree'; }
  against=$setup_tree
else
  against=$base
fi
`;

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
 * a file the reviewer never saw), and a `.gitignore` or `.gitattributes` file that is itself
 * ignored (`sub/.gitignore` saying `*`) is added all the same, so every rule that shaped the diff
 * is in it. Pathspecs are literal: a file named `:(glob)*` is that file.
 *
 * The tree holds the files as they are, as the tests ran on them: the repository's clean filters
 * (its config names the command, which the agent could write) are switched off, so a filter
 * cannot put in the tree something other than the working tree. Attributes the diff does not
 * show are refused (exit `hiddenAttributes`): `.git/info/attributes` (it could mark a text file
 * `-diff`, shown as binary) and a `diff.<driver>.binary` setting.
 */
export const gitTemporaryIndexScript = `
g cat-file -e "$base^{commit}" 2>"$work/err" || fail 72 'base commit missing'
attributes=$(g rev-parse --git-path info/attributes 2>"$work/err") || fail 73 'rev-parse --git-path info/attributes'
if [ -f "$attributes" ] && grep -q '^[[:space:]]*[^#[:space:]]' "$attributes"; then
  cat "$attributes" >"$work/err"; fail ${gitScriptExit.hiddenAttributes} '.git/info/attributes'
fi
if g config --name-only --get-regexp '^diff..*.binary$' >"$work/err" 2>&1; then
  fail ${gitScriptExit.hiddenAttributes} 'diff.<driver>.binary'
fi
${gitFiltersOffScript}
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
g -c core.excludesFile=/dev/null ls-files -z --others --ignored --directory --exclude-per-directory=.gitignore >"$work/ignored" 2>"$work/err" || fail 73 'ls-files --ignored'
grep -z -E '(^|/)[.]git(ignore|attributes)$' "$work/ignored" >>"$work/untracked"
GIT_LITERAL_PATHSPECS=1 g add -f --pathspec-from-file="$work/untracked" --pathspec-file-nul 2>"$work/err" || fail 73 'add the untracked files'
`;
