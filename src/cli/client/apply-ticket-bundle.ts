/**
 * `mags ticket apply`, on the user's side: the approved ticket's git bundle becomes the branch
 * `mags/<ticket id>` in their own repository, with host git run directly (argument lists, never a
 * shell string). Their working tree, index and current branch are never touched: the branch is
 * fetched from the bundle as a ref, nothing is checked out, merged or pushed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DependencyMissingError, InvalidInputError } from '../../errors/mags-error.ts';
import { checkBranchName } from '../../tickets/evidence/branch-name.ts';
import {
  BranchExistsError,
  BundlePrerequisiteMissingError,
  GitCommandError,
  NotAGitRepositoryError,
} from '../../tickets/evidence/git-errors.ts';
import { readBundleHeader } from '../../tickets/review/bundle-header.ts';

export interface ApplyTicketBundleInput {
  /** A directory inside the user's repository (a checkout or a bare repository). */
  cwd: string;
  bundle: Buffer;
  /** `mags/<ticket id>`: the branch in the bundle, and the one made here. */
  branch: string;
  /** Replace an existing branch of that name that points elsewhere. */
  force?: boolean;
}

export async function applyTicketBundle(
  input: ApplyTicketBundleInput,
): Promise<{ commit: string }> {
  const cwd = resolve(input.cwd);
  const ref = `refs/heads/${input.branch}`;
  checkBranchName(input.branch);
  const header = readBundleHeader(input.bundle);
  const commit = header.refs.get(ref);
  if (!commit) {
    throw new InvalidInputError(`The ticket's bundle has no branch ${input.branch}.`, {
      hint: `It holds ${[...header.refs.keys()].join(', ') || 'no branches'}; approve the ticket again to make a new one.`,
    });
  }
  const directoryStat = await stat(cwd).catch(() => undefined);
  if (!directoryStat?.isDirectory()) {
    throw new NotAGitRepositoryError(cwd, {
      hint: "The directory does not exist: run it inside your clone of the project's repository.",
    });
  }
  const inside = await git(cwd, ['rev-parse', '--git-dir']);
  if (inside.exitCode !== 0) {
    throw new NotAGitRepositoryError(cwd, {
      hint: "Run it inside your clone of the project's repository (the ticket's branch is added there).",
    });
  }

  const existing = await git(cwd, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  const existingCommit = existing.exitCode === 0 ? existing.stdout.trim() : null;
  if (existingCommit === commit) return { commit };
  if (existingCommit) {
    const head = await git(cwd, ['symbolic-ref', '--quiet', 'HEAD']);
    const checkedOut = head.exitCode === 0 && head.stdout.trim() === ref;
    // Moving the branch under a checkout would leave its working tree out of step with it.
    if (!input.force || checkedOut) {
      throw new BranchExistsError(input.branch, existingCommit, commit, { checkedOut });
    }
  }

  const directory = await mkdtemp(join(tmpdir(), 'mags-ticket-bundle-'));
  try {
    const path = join(directory, 'ticket.bundle');
    await writeFile(path, input.bundle);
    const verified = await git(cwd, ['bundle', 'verify', '--quiet', path]);
    if (verified.exitCode !== 0) {
      const missing: string[] = [];
      for (const prerequisite of header.prerequisites) {
        const found = await git(cwd, ['cat-file', '-e', `${prerequisite}^{commit}`]);
        if (found.exitCode !== 0) missing.push(prerequisite);
      }
      if (missing.length > 0) throw new BundlePrerequisiteMissingError(missing);
      throw new GitCommandError('bundle verify', verified.exitCode, verified.stderr);
    }
    const fetched = await git(cwd, [
      'fetch',
      '--quiet',
      '--no-tags',
      '--no-write-fetch-head',
      path,
      `${existingCommit ? '+' : ''}${ref}:${ref}`,
    ]);
    if (fetched.exitCode !== 0) {
      throw new GitCommandError('fetch', fetched.exitCode, fetched.stderr);
    }
    return { commit };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

function git(
  cwd: string,
  args: string[],
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      'git',
      args,
      {
        cwd,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
      },
      (error, stdout, stderr) => {
        const code = (error as NodeJS.ErrnoException | null)?.code;
        if (code === 'ENOENT') {
          reject(
            new DependencyMissingError(
              'git could not be run: it is not installed on this machine.',
              { hint: 'Install git (apt-get install git) and run it inside your checkout.' },
            ),
          );
          return;
        }
        const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolvePromise({ exitCode, stdout, stderr });
      },
    );
  });
}
