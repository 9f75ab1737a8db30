import type { AgentSandbox } from '../../agents/agent-sandbox.ts';
import { shellQuote } from '../../config/shell-quote.ts';
import { GitCommandError } from './git-errors.ts';
import { gitTemporaryIndexScript, objectIdPattern } from './git-script.ts';
import { runGitScript } from './run-git-script.ts';

/** Where a project workspace keeps its setup's tree reachable (`git gc` prunes loose objects). */
export const setupTreeRef = 'refs/mags/setup-tree';

/**
 * The working tree of the repository as a git tree written into its own object store, the files
 * chosen exactly as a ticket's diff chooses them (`gitTemporaryIndexScript`: tracked and untracked
 * files that `.gitignore` does not ignore, clean filters off), so that a diff against it shows
 * nothing for a file nobody touched since. The repository's index, HEAD and working tree are
 * untouched; `ref`, when given, is pointed at the tree so that it outlives `git gc`.
 */
export async function writeWorkingTree(
  sandbox: AgentSandbox,
  baseCommit: string,
  options: { repository?: string; ref?: string; timeoutMs?: number } = {},
): Promise<string> {
  const keep = options.ref
    ? `g update-ref ${shellQuote(options.ref)} "$tree" 2>"$work/err" || fail 73 'update-ref'\n`
    : '';
  const output = await runGitScript(sandbox, {
    what: 'snapshot of the working tree',
    baseCommit,
    repository: options.repository,
    timeoutMs: options.timeoutMs ?? 300_000,
    script: `${gitTemporaryIndexScript}
tree=$(g write-tree 2>"$work/err") || fail 73 'write-tree'
${keep}printf '%s\\n' "$tree"
`,
  });
  const tree = output.trim().split('\n').at(-1) ?? '';
  if (!objectIdPattern.test(tree)) {
    throw new GitCommandError('write-tree', 0, `printed no tree id: ${output.slice(0, 200)}`);
  }
  return tree;
}
