import { createReadStream } from 'node:fs';
import { MagsError } from '../errors/mags-error.ts';
import { overlayTreeFunction, reviewedRef } from '../tickets/review/overlay-tree-script.ts';
import { ApprovedCommitMismatchError, ProjectRepositoryError } from './project-errors.ts';
import type { SessionCommandResult, WorkspaceSession } from './workspace-session.ts';

/** Where a host repository's bundle is put in the sandbox while it is cloned or fetched. */
export const sandboxBundlePath = '/tmp/mags-import.bundle';

type Output = ((text: string) => void) | undefined;

/** An approved ticket's branch to bring into the project, and what it must hold. */
export interface ImportBranchOptions {
  /** The approval's git bundle (made in the ticket's sandbox: checked, not trusted). */
  bundle: Buffer;
  /** `mags/<ticket id>`. */
  branch: string;
  /** The commit the approval made: the branch's only ref in the bundle. */
  commit: string;
  /** The commit the ticket started from: the approved commit's one parent. */
  baseCommit: string;
  /** The reviewed evidence's tree (`Evidence.tree`), or null when there was none. */
  tree: string | null;
  /**
   * The ticket's `baseTree` (the project's files after its setup, which the diff was taken
   * against), or null. With it and `tree`, the commit's tree must be the base commit's with what
   * changed between the two laid over it, computed here; `reviewedRef(branch)` in the bundle
   * carries their objects.
   */
  setupTree?: string | null;
}

/**
 * The git steps of a project workspace, each run inside its sandbox: the first clone, a refresh's
 * fetch and checkout, the commit it is at, and an approved branch brought in from a bundle.
 */
export const projectGit = {
  /** Copies a bundle made on the host into the sandbox (streamed: a large repository is fine). */
  async putBundle(session: WorkspaceSession, file: string): Promise<void> {
    await session.runtimeSandbox.writeFile(sandboxBundlePath, createReadStream(file));
  },

  /** Clones `source` (the bundle's path, or a URL) into the empty /workspace and checks out `ref`. */
  async clone(
    session: WorkspaceSession,
    options: { source: string; repo: string; ref: string | null; onOutput: Output },
  ): Promise<void> {
    const cloned = await session.run(['git', 'clone', '--progress', options.source, '.'], {
      onOutput: options.onOutput,
    });
    ensure(cloned, options.repo, `Cloning ${options.repo} failed`);
    if (options.ref !== null) await checkout(session, options.repo, options.ref, options.onOutput);
  },

  /**
   * Fetches every branch and tag of `source` and moves the workspace to the new commit: `ref`
   * again when one was asked for, else the branch it is on follows its upstream. Untracked files
   * (what setup installed) stay; tracked files are reset to the new commit.
   */
  async fetch(
    session: WorkspaceSession,
    options: { source: string; repo: string; ref: string | null; onOutput: Output },
  ): Promise<void> {
    const run = (argv: string[]) => session.run(argv, { onOutput: options.onOutput });
    ensure(
      await run(['git', 'remote', 'set-url', 'origin', options.source]),
      options.repo,
      'The project workspace has no git remote',
    );
    ensure(
      await run([
        'git',
        'fetch',
        '--progress',
        '--force',
        '--tags',
        'origin',
        '+refs/heads/*:refs/remotes/origin/*',
      ]),
      options.repo,
      `Fetching from ${options.repo} failed`,
    );
    const moved = await run(['/bin/sh', '-c', moveToNewCommit, 'sh', options.ref ?? '']);
    ensure(moved, options.repo, 'Moving the project workspace to the new commit failed');
  },

  async head(session: WorkspaceSession): Promise<string> {
    const result = await session.run(['git', 'rev-parse', 'HEAD']);
    if (result.exitCode !== 0) {
      throw new MagsError(`git rev-parse HEAD failed in the project workspace: ${result.tail}`, {
        code: 'project_git_failed',
      });
    }
    return result.tail.trim();
  },

  /**
   * Makes `branch` in /workspace's repository point at `commit`, brought in from the bundle put
   * at `sandboxBundlePath`, after checking what the bundle holds where git hashes it (the ticket's
   * sandbox made it, and nothing there is trusted): that branch alone, at `commit`, whose one
   * parent is `baseCommit` and whose tree is `tree` (the reviewed one; null: not checked), or,
   * with a `setupTree`, the base commit's tree with what changed between `setupTree` and `tree`
   * laid over it (the same overlay the approval made, computed again here from the ids the host
   * knows). The bundle's prerequisite (the commit a ticket started from) is in the repository
   * already.
   */
  async importBranch(
    session: WorkspaceSession,
    options: Omit<ImportBranchOptions, 'bundle'>,
  ): Promise<string> {
    const result = await session.run([
      '/bin/sh',
      '-c',
      fetchBundleHead,
      'sh',
      options.branch,
      options.commit,
      options.baseCommit,
      options.tree ?? '',
      options.setupTree ?? '',
      reviewedRef(options.branch),
    ]);
    if (result.exitCode === mismatchExit) {
      throw new ApprovedCommitMismatchError(
        options.branch,
        result.tail.trim().split('\n').at(-1) ?? 'it differs',
      );
    }
    if (result.exitCode !== 0) {
      throw new MagsError(
        `Could not bring branch ${options.branch} into the project: ${result.tail}`,
        {
          code: 'project_import_branch_failed',
          hint: 'The bundle must be a git bundle based on a commit of the project (approving a ticket makes one).',
        },
      );
    }
    return result.tail.trim().split('\n').at(-1) ?? '';
  },

  async removeBundle(session: WorkspaceSession): Promise<void> {
    await session.run(['rm', '-f', sandboxBundlePath]);
  },
};

async function checkout(
  session: WorkspaceSession,
  repo: string,
  ref: string,
  onOutput: Output,
): Promise<void> {
  const result = await session.run(
    ['git', '-c', 'advice.detachedHead=false', 'checkout', '-q', ref, '--'],
    { onOutput },
  );
  if (result.exitCode !== 0) {
    throw new ProjectRepositoryError(
      repo,
      `${repo} has no branch, tag or commit ${JSON.stringify(ref)}: ${result.tail.trim()}`,
      'Check the name with git branch -a / git tag in the repository, or leave --ref out for its HEAD.',
    );
  }
}

// $1: the ref asked for, or empty. A branch of that name on the remote wins over a tag or a
// commit; with none asked for, the branch checked out follows its upstream.
const moveToNewCommit = `set -e
if [ -n "$1" ]; then
  if git rev-parse -q --verify "refs/remotes/origin/$1^{commit}" >/dev/null; then
    target="refs/remotes/origin/$1"
  else
    target="$1"
  fi
elif git rev-parse -q --verify '@{upstream}' >/dev/null; then
  target='@{upstream}'
else
  target=refs/remotes/origin/HEAD
fi
if git symbolic-ref -q HEAD >/dev/null; then
  git reset -q --hard "$target"
else
  git -c advice.detachedHead=false checkout -q -f --detach "$target"
fi`;

const mismatchExit = 3;

// $1: the branch to make; $2: the commit it must be; $3: its one parent; $4: its tree, or the
// reviewed tree with $5 (or empty: not checked); $5: the setup's tree (or empty); $6: the ref that
// may carry the reviewed tree. The objects are fetched without a ref, checked, and only then is
// the branch made (and the plan's merge refs at $3 dropped). No hook of the repository runs.
const fetchBundleHead = `set -e
g() { git -c core.hooksPath=/dev/null "$@"; }
mismatch() { echo "$1" >&2; exit ${mismatchExit}; }
${overlayTreeFunction}
g check-ref-format --branch "$1" >/dev/null
heads=$(g bundle list-heads ${sandboxBundlePath})
reviewed=$(printf '%s\\n' "$heads" | while read -r id ref; do [ "$ref" != "$6" ] || echo "$id"; done)
expected="$2 refs/heads/$1"
if [ -n "$reviewed" ]; then expected=$(printf '%s\\n%s %s' "$expected" "$reviewed" "$6"); fi
[ "$(printf '%s\\n' "$heads" | sort)" = "$(printf '%s\\n' "$expected" | sort)" ] || mismatch "its bundle holds $(echo $heads), not refs/heads/$1 at $2 alone"
g fetch -q --no-tags --no-write-fetch-head ${sandboxBundlePath} "refs/heads/$1" \${reviewed:+"$6"}
parents=$(g rev-list --parents -n 1 "$2^{commit}")
[ "$parents" = "$2 $3" ] || mismatch "its parents are $(echo $parents | cut -d ' ' -f 2-), not the base commit $3 alone"
if [ -n "$4" ]; then
  tree=$(g rev-parse "$2^{tree}")
  want=$4
  if [ -n "$5" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    want=$(overlay "$3" "$5" "$4" "$work/index" 2>"$work/err") || mismatch "the reviewed tree $4 or the setup's tree $5 is not in it: $(tail -n 3 "$work/err")"
  fi
  [ "$tree" = "$want" ] || mismatch "its tree is $tree, not the reviewed tree $want"
fi
g update-ref "refs/heads/$1" "$2"
# A plan's merge the ticket started from (refs/mags/merges/<workspace>) is reachable from the
# branch now: its ref is no longer needed to keep it. Not a failure when it cannot go.
g for-each-ref --format='%(refname)' --points-at "$3" refs/mags/merges/ | while read -r ref; do g update-ref -d "$ref" "$3" || true; done
rm -f ${sandboxBundlePath}
g rev-parse "refs/heads/$1"`;

function ensure(result: SessionCommandResult, repo: string, what: string): void {
  if (result.exitCode === 0) return;
  const how = result.timedOut ? 'timed out' : `exited with code ${result.exitCode}`;
  throw new ProjectRepositoryError(
    repo,
    `${what} (${how}): ${result.tail.trim()}`,
    'Check that the repository and the ref exist and are readable (a URL needs --net).',
  );
}
