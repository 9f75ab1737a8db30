import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  PermissionDeniedError,
} from '../errors/mags-error.ts';

export function projectNotFoundError(name: string): NotFoundError {
  return new NotFoundError(`Project ${JSON.stringify(name)} does not exist.`, {
    code: 'project_not_found',
    hint: 'mags project list shows yours; mags project create NAME --repo PATH makes one.',
  });
}

export function projectExistsError(name: string): ConflictError {
  return new ConflictError(`Project ${JSON.stringify(name)} already exists.`, {
    code: 'project_exists',
    hint: `Choose another name, or mags project refresh ${name} to pull new commits into it.`,
  });
}

/** A repository that cannot be imported: not a git repository, no commits, a bad ref. */
export class ProjectRepositoryError extends InvalidInputError {
  readonly repo: string;

  constructor(repo: string, message: string, hint: string) {
    super(message, { code: 'project_repository_invalid', hint });
    this.repo = repo;
  }
}

/** `.mags/project.json` in the repository is not JSON, or a field of it is wrong. */
export class ProjectConfigError extends InvalidInputError {
  readonly file: string;
  /** The field at fault (`roles.developer.tools`), or null when the file is not JSON at all. */
  readonly field: string | null;

  constructor(message: string, options: { file: string; field: string | null }) {
    super(message, {
      code: 'project_config_invalid',
      hint: `Fix ${options.file} in the repository (fields: setup, test, model, roles, prices), commit, and try again.`,
    });
    this.file = options.file;
    this.field = options.field;
  }
}

/**
 * A path on the server that this owner may not import: only the host's own local server (the
 * owner `local`) reads any path; on a shared server, only paths under the roots its admin set.
 */
export class ProjectPathNotAllowedError extends PermissionDeniedError {
  readonly repo: string;

  constructor(repo: string, roots: readonly string[]) {
    super(
      roots.length === 0
        ? `This server imports no paths on it for you: ${repo} is not allowed.`
        : `${repo} is not under a directory this server imports from (${roots.join(', ')}).`,
      {
        code: 'project_path_not_allowed',
        hint:
          roots.length === 0
            ? 'Give the URL of the repository with --net (API: "network": true), or ask the server\'s admin to allow a directory (MAGS_PROJECT_ROOTS).'
            : 'Put the repository under one of those directories, give its URL with --net (API: "network": true), or ask the server\'s admin to allow its directory (MAGS_PROJECT_ROOTS).',
      },
    );
    this.repo = repo;
  }
}

/**
 * What an approval brought back from the ticket's sandbox is not the commit the platform asked
 * for: a bundle with other refs, a commit whose tree is not the reviewed one or whose parent is
 * not the base. Something in the sandbox (a git hook, a replaced git) changed it; nothing was
 * stored or published.
 */
export class ApprovedCommitMismatchError extends ConflictError {
  readonly branch: string;
  constructor(branch: string, problem: string) {
    super(`The approved commit for ${branch} is not what was reviewed: ${problem}.`, {
      code: 'approved_commit_mismatch',
      hint: "Nothing was published. Something in the ticket's sandbox changed the commit (a git hook?): look at its workspace, then request changes or close the ticket.",
    });
    this.branch = branch;
  }
}
