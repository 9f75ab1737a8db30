import type { AgentSandbox } from '../../agents/agent-sandbox.ts';
import type { Evidence } from '../../api/tickets.ts';
import { GitCommandError } from './git-errors.ts';
import { gitAgainstScript, gitTemporaryIndexScript, objectIdPattern } from './git-script.ts';
import { runGitScript } from './run-git-script.ts';

export type DiffStatFile = Evidence['diffStat']['files'][number];

export const defaultDiffTimeoutMs = 120_000;

/**
 * What the ticket changed since `baseCommit`, or since `setupTree` (the project's files after its
 * setup, on that commit) when given, so that what the setup wrote is not shown as the agent's: modified, added (untracked) and deleted files, and
 * binary files named ("Binary files a/x and b/x differ"), whether the agent committed its work or
 * left it in the working tree; files the tree's `.gitignore` files ignore (node_modules, build output) are left out. One
 * command in the sandbox, through a temporary index, so the repository's own index, HEAD and
 * working tree are untouched. `tree` is the id of the tree the diff shows: the evidence keeps it,
 * and approving commits exactly that tree (nothing in the sandbox can point it elsewhere).
 */
export async function takeDiff(
  sandbox: AgentSandbox,
  baseCommit: string,
  options: {
    /** The ticket's `baseTree`: the diff is taken against it instead of the base commit. */
    setupTree?: string | null;
    repository?: string;
    timeoutMs?: number;
    signal?: AbortSignal;
  } = {},
): Promise<{ diff: string; files: DiffStatFile[]; tree: string }> {
  // The tree id on its own line; then --numstat -z and -p: the per-file counts (NUL-terminated
  // records, "-" for binary files), an empty record, then the patch. --no-renames: a rename is a
  // deletion and an addition, as the stat shows it. The diff runs over an empty working tree, so
  // the attributes that decide what it shows (a file marked `-diff` is shown as binary) come from
  // the `.gitattributes` files of the tree itself (git reads them relative to its directory, so it runs there), which the diff shows, never from files that
  // are in the working tree but not in the diff.
  const output = await runGitScript(sandbox, {
    what: 'diff',
    baseCommit,
    setupTree: options.setupTree,
    repository: options.repository,
    timeoutMs: options.timeoutMs ?? defaultDiffTimeoutMs,
    signal: options.signal,
    script: `${gitTemporaryIndexScript}${gitAgainstScript}
tree=$(g write-tree 2>"$work/err") || fail 73 'write-tree'
printf '%s\\n' "$tree"
gitdir=$(g rev-parse --absolute-git-dir 2>"$work/err") || fail 73 'rev-parse --absolute-git-dir'
mkdir "$work/empty" || fail 73 'mkdir'
cd "$work/empty" || fail 73 'cd'
GIT_DIR=$gitdir GIT_WORK_TREE=$work/empty g diff --cached --no-renames --no-ext-diff --no-textconv --no-color --numstat -z -p "$against" -- 2>"$work/err" || fail 73 'diff'
`,
  });
  const newline = output.indexOf('\n');
  const tree = output.slice(0, newline);
  if (!objectIdPattern.test(tree)) {
    throw new GitCommandError('write-tree', 0, `printed no tree id: ${output.slice(0, 200)}`);
  }
  return { tree, ...parseNumstatPatch(output.slice(newline + 1)) };
}

/** Splits `git diff --numstat -z -p` output into the stat and the patch. */
export function parseNumstatPatch(output: string): { diff: string; files: DiffStatFile[] } {
  const end = output.indexOf('\0\0');
  const stat = end === -1 ? output : output.slice(0, end);
  const diff = end === -1 ? '' : output.slice(end + 2);
  const files: DiffStatFile[] = [];
  for (const record of stat.split('\0')) {
    const first = record.indexOf('\t');
    const second = record.indexOf('\t', first + 1);
    if (first === -1 || second === -1) continue;
    const added = record.slice(0, first);
    const removed = record.slice(first + 1, second);
    const binary = added === '-' && removed === '-';
    files.push({
      path: record.slice(second + 1),
      added: binary ? null : Number(added),
      removed: binary ? null : Number(removed),
      binary,
    });
  }
  return { diff, files };
}
