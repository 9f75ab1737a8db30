/**
 * A shell function, `overlay BASE SETUP_TREE REVIEWED INDEX_FILE`, that prints the tree an approval
 * commits when the project's setup changed files (`SETUP_TREE` is not BASE's tree): BASE's tree
 * with, path by path, what changed between SETUP_TREE and REVIEWED laid over it (`diff-tree` raw
 * records turned into `update-index --index-info` lines; a deletion is mode 0 and the zero id).
 * No patch is applied: binary files, modes and links are taken as they are, and a file the setup
 * made is left out unless the agent changed it. The same function runs in the ticket's sandbox
 * (making the commit) and in the project's workspace (checking it), after a `g` git wrapper is
 * defined; INDEX_FILE is a temporary index of its own, and INDEX_FILE.raw and .info are written.
 */
export const overlayTreeFunction = `
overlay() {
  GIT_INDEX_FILE="$4" g read-tree "$1" || return 1
  g diff-tree -r -z --no-renames "$2" "$3" >"$4.raw" || return 1
  sed -z 'N;s/^:[0-7]* \\([0-7]*\\) [0-9a-f]* \\([0-9a-f]*\\) [A-Z]*\\x00/\\1 \\2\\t/' "$4.raw" >"$4.info" || return 1
  GIT_INDEX_FILE="$4" g update-index -z --index-info <"$4.info" || return 1
  GIT_INDEX_FILE="$4" g write-tree
}
`;

/** The ref an approval's bundle carries the reviewed tree on (with the setup's under it). */
export const reviewedRef = (branch: string) =>
  `refs/mags/reviewed/${branch.replace(/^mags\//, '')}`;
