/**
 * What can go wrong between a ticket's repository and git: in the ticket's sandbox (the diff, the
 * approved commit) and in the user's checkout (`mags ticket apply`). Each error carries the facts
 * (path, commit, branch) as fields and says what to do next.
 */
import { ConflictError, MagsError, NotFoundError } from '../../errors/mags-error.ts';

/** The directory is not inside a git repository (the ticket's /workspace, or the user's cwd). */
export class NotAGitRepositoryError extends MagsError {
  readonly path: string;
  constructor(path: string, options: { hint: string; cause?: unknown }) {
    super(`${path} is not in a git repository.`, {
      code: 'not_a_git_repository',
      statusCode: 409,
      ...options,
    });
    this.path = path;
  }
}

/** The commit a ticket started from is not in its repository, so nothing can be compared to it. */
export class BaseCommitMissingError extends NotFoundError {
  readonly commit: string;
  constructor(commit: string) {
    super(`The ticket's base commit ${commit} is not in its workspace's repository.`, {
      code: 'base_commit_missing',
      hint: "The workspace's history was rewritten or its .git replaced (by the agent?): the diff cannot be taken against where the ticket started. Close the ticket and create a new one from the project.",
    });
    this.commit = commit;
  }
}

/**
 * The tree the reviewer saw (the evidence's diff) is no longer in the ticket's repository, or is
 * not a tree: something in the sandbox pruned or replaced it after the diff was taken.
 */
export class ReviewedTreeMissingError extends ConflictError {
  readonly tree: string;
  constructor(tree: string, output: string) {
    super(
      `The reviewed tree ${tree} is not in the ticket's repository: ${output.trim().slice(0, 500)}`,
      {
        code: 'reviewed_tree_missing',
        hint: 'Something in its sandbox removed it after the evidence was taken (git gc --prune?). Request changes so that the evidence is taken again, then review and approve that.',
      },
    );
    this.tree = tree;
  }
}

/**
 * The tree of the project's files after its setup (the ticket's `baseTree`, which its diff is
 * taken against and its approval builds on) is not in the ticket's repository, or is not a tree.
 */
export class SetupTreeMissingError extends ConflictError {
  readonly tree: string;
  constructor(tree: string, output: string) {
    super(
      `The tree of the project's files after its setup, ${tree}, is not in the ticket's repository: ${output.trim().slice(0, 500)}`,
      {
        code: 'setup_tree_missing',
        hint: 'Something in its sandbox removed it (git update-ref -d refs/mags/setup-tree, git gc --prune?): close the ticket and create a new one from the project.',
      },
    );
    this.tree = tree;
  }
}

/**
 * The ticket's repository holds git attributes the diff would not show (`.git/info/attributes`,
 * a `diff.<driver>.binary` setting): they could make a changed text file look binary, so the
 * evidence is not taken over them.
 */
export class HiddenGitAttributesError extends ConflictError {
  readonly setting: string;
  constructor(setting: string, output: string) {
    super(
      `The ticket's repository has ${setting}, which changes what its diff shows without being in it: ${output.trim().slice(0, 500)}`,
      {
        code: 'hidden_git_attributes',
        hint: `Request changes asking the agent to remove it (rm .git/info/attributes; git config --unset-all diff.<driver>.binary), or put the attributes in a .gitattributes file, which the diff shows; then review the new evidence.`,
      },
    );
    this.setting = setting;
  }
}

/** A bundle builds on commits the user's repository does not have. */
export class BundlePrerequisiteMissingError extends ConflictError {
  readonly commits: string[];
  constructor(commits: string[]) {
    super(
      `The ticket's bundle needs commit ${commits.join(', ')}, which this repository does not have.`,
      {
        code: 'bundle_prerequisite_missing',
        hint: "Run it in a clone of the project's repository, after fetching its latest commits (git fetch), so that the commit the ticket started from is here.",
      },
    );
    this.commits = commits;
  }
}

/** The branch exists in the user's repository with other commits (or is checked out). */
export class BranchExistsError extends ConflictError {
  readonly branch: string;
  readonly existing: string;
  readonly incoming: string;
  constructor(
    branch: string,
    existing: string,
    incoming: string,
    options: { checkedOut: boolean },
  ) {
    super(
      options.checkedOut
        ? `Branch ${branch} is checked out here (at ${existing}); the ticket's commit is ${incoming}.`
        : `Branch ${branch} already exists here at ${existing}, not at the ticket's commit ${incoming}.`,
      {
        code: 'branch_exists',
        hint: options.checkedOut
          ? 'Switch to another branch first (git switch -), then apply again with --force to replace it.'
          : `Apply again with --force to replace it, or delete it first (git branch -D ${branch}).`,
      },
    );
    this.branch = branch;
    this.existing = existing;
    this.incoming = incoming;
  }
}

/** A git command failed for a reason not covered above; its own words are in the message. */
export class GitCommandError extends MagsError {
  readonly command: string;
  readonly exitCode: number | null;
  constructor(command: string, exitCode: number | null, output: string, hint?: string) {
    super(`git ${command} failed (exit ${exitCode ?? 'none'}): ${output.trim().slice(0, 2000)}`, {
      code: 'git_failed',
      statusCode: 500,
      hint,
    });
    this.command = command;
    this.exitCode = exitCode;
  }
}
