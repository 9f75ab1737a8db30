import { execFile } from 'node:child_process';
import { lstat, mkdtemp, readdir, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { localOwner } from '../workspaces/owner-workspace.ts';
import { ProjectPathNotAllowedError, ProjectRepositoryError } from './project-errors.ts';

const execFileAsync = promisify(execFile);

/** A URL git can clone inside a sandbox with network (no ssh: the sandbox has no keys). */
export const isRepositoryUrl = (repo: string) => /^(https?|git):\/\/./i.test(repo);

/**
 * Checks where a project's repository is before anything is made: a URL needs network; a path
 * must be absolute (the CLI resolves a relative one against the user's directory).
 */
export function checkRepositoryLocation(repo: string, network: boolean): void {
  if (isRepositoryUrl(repo)) {
    if (!network) {
      throw new ProjectRepositoryError(
        repo,
        `Cloning ${repo} needs network, which the project was not given.`,
        'Add --net (API: "network": true), or give the path of a checkout on the server.',
      );
    }
    return;
  }
  if (!isAbsolute(repo)) {
    throw new ProjectRepositoryError(
      repo,
      `The repository path ${JSON.stringify(repo)} is not absolute.`,
      'Give an absolute path on the server, or a URL with --net.',
    );
  }
}

/**
 * The directories a shared server imports host repositories from: MAGS_PROJECT_ROOTS, absolute
 * paths separated by colons (relative ones are ignored: they would depend on the server's cwd).
 */
export function projectRoots(environment: NodeJS.ProcessEnv = process.env): string[] {
  return (environment.MAGS_PROJECT_ROOTS ?? '')
    .split(':')
    .filter((root) => root !== '' && isAbsolute(root));
}

/**
 * Whether `owner` may import the repository at the host path `repo`, and its real path (the one
 * to read). A path on the server is the server's files: the host's own local server (the owner
 * `local`, this host's user) reads any; on a shared server an owner may read only under the roots
 * its admin configured, checked on the real path (a symlink out of a root is refused). A path
 * outside them is refused whether or not it exists, so nothing is learnt about the host.
 */
export async function checkHostPathAllowed(
  owner: string,
  repo: string,
  roots: readonly string[],
): Promise<string> {
  const real = await realpath(repo).catch(() => undefined);
  if (owner === localOwner) return real ?? repo;
  const realRoots = await Promise.all(
    roots.map((root) => realpath(root).catch(() => resolve(root))),
  );
  // A missing path under a root is the owner's own mistake: the import says it does not exist.
  const path = real ?? resolve(repo);
  if (!realRoots.some((root) => isUnder(path, root)))
    throw new ProjectPathNotAllowedError(repo, roots);
  return path;
}

/**
 * The whole repository at `path` on this host as a git bundle (`git bundle create --all`), so
 * the sandbox clones from a file and the host never writes into a workspace itself. The caller
 * removes the bundle's directory (`cleanup`).
 *
 * `confined` (an owner of a shared server, allowed only under its roots): every file git reads
 * must be under `path` too. A repository is more than its directory: a `.git` file or link
 * (`gitdir: /root/secret/.git`), a `commondir` file, alternates or a link inside `.git` make git
 * read another repository, which `--all` would bundle. Each is refused before git runs, and the
 * git directory git reports is checked again after.
 */
export async function bundleHostRepository(
  path: string,
  options: { confined?: boolean } = {},
): Promise<{ file: string; cleanup(): Promise<void> }> {
  const notRepository = (detail: string) =>
    new ProjectRepositoryError(
      path,
      `${path} is not a git repository${detail}.`,
      'Give the top directory of a git checkout, or a bare repository (git init, git commit first).',
    );
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory()) throw notRepository(' (no such directory)');
  const real = await realpath(path);
  if (options.confined) await checkRepositoryConfined(path, real);
  // The server often runs as root and the repository is a user's: git's ownership check would
  // refuse to read it, so it is waived for this one path. The repository's own config is not
  // trusted (CVE-2022-24765): no fsmonitor or hook command of it runs. Nor does the server's
  // environment say where the repository is (GIT_DIR, GIT_ALTERNATE_OBJECT_DIRECTORIES...).
  const environment = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('GIT_')),
  );
  const git = (...args: string[]) =>
    execFileAsync(
      'git',
      [
        '-c',
        `safe.directory=${real}`,
        '-c',
        'core.fsmonitor=false',
        '-c',
        'core.hooksPath=/dev/null',
        '-C',
        real,
        ...args,
      ],
      { maxBuffer: 1024 * 1024, env: environment },
    );
  const where = await git(
    'rev-parse',
    '--path-format=absolute',
    '--is-bare-repository',
    '--absolute-git-dir',
    '--git-common-dir',
  ).catch(() => undefined);
  if (!where) throw notRepository('');
  const [bare, gitDirectory = '', commonDirectory = ''] = where.stdout.trim().split('\n');
  const top =
    bare === 'true'
      ? gitDirectory
      : (await git('rev-parse', '--show-toplevel').catch(() => undefined))?.stdout.trim();
  // A directory inside a repository is not that repository: importing the enclosing one would
  // surprise whoever named the directory.
  if (top !== real) throw notRepository(top ? ` (it is inside ${top})` : '');
  if (options.confined) {
    const own = [real, join(real, '.git')];
    for (const directory of [gitDirectory, commonDirectory]) {
      const resolved = await realpath(directory).catch(() => directory);
      if (!own.includes(resolved)) throw readsOutside(path, 'its git directory is elsewhere');
    }
  }
  const directory = await mkdtemp(join(tmpdir(), 'mags-import-'));
  const file = join(directory, 'repository.bundle');
  const cleanup = () => rm(directory, { recursive: true, force: true });
  try {
    await git('bundle', 'create', '--quiet', file, '--all');
  } catch (error) {
    await cleanup();
    const stderr = String((error as { stderr?: string }).stderr ?? error);
    if (/empty bundle/i.test(stderr)) {
      throw new ProjectRepositoryError(
        path,
        `${path} has no commits to import.`,
        'Commit something first (git commit), then create the project.',
      );
    }
    throw new ProjectRepositoryError(
      path,
      `Could not bundle ${path}: ${stderr.trim()}`,
      'Check that the repository is readable by the server and not corrupt (git fsck).',
    );
  }
  return { file, cleanup };
}

/**
 * What makes git read outside `real` (its real path), refused before git runs: `.git` that is not
 * a directory (a `gitdir:` file, a link), a `commondir` file (a linked worktree's), alternates,
 * and links in the git directory that resolve outside `real`.
 */
async function checkRepositoryConfined(path: string, real: string): Promise<void> {
  const dotGit = join(real, '.git');
  const entry = await lstat(dotGit).catch(() => undefined);
  if (entry && !entry.isDirectory()) {
    throw readsOutside(
      path,
      `.git is a ${entry.isSymbolicLink() ? 'link' : 'file'}, not a directory`,
    );
  }
  const gitDirectory = entry ? dotGit : real;
  for (const file of ['commondir', 'objects/info/alternates', 'objects/info/http-alternates']) {
    if (await lstat(join(gitDirectory, file)).catch(() => undefined)) {
      throw readsOutside(path, `it has ${relative(real, join(gitDirectory, file))}`);
    }
  }
  for (const found of await readdir(gitDirectory, { recursive: true, withFileTypes: true })) {
    if (!found.isSymbolicLink()) continue;
    const link = join(found.parentPath, found.name);
    const target = await realpath(link).catch(() => undefined);
    if (target === undefined || !isUnder(target, real)) {
      throw readsOutside(path, `${relative(real, link)} links outside it`);
    }
  }
}

const isUnder = (path: string, root: string) => {
  const inside = relative(root, path);
  return (
    inside === '' || (!inside.startsWith(`..${sep}`) && inside !== '..' && !isAbsolute(inside))
  );
};

function readsOutside(path: string, why: string): ProjectRepositoryError {
  return new ProjectRepositoryError(
    path,
    `${path} is not wholly under the directories this server imports from: ${why}.`,
    'Give a plain clone (git clone --no-hardlinks, without --shared or --reference; not a linked worktree) whose .git is a directory inside it.',
  );
}
