import { execFile } from 'node:child_process';
import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
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
  const under = (path: string, root: string) => {
    const inside = relative(root, path);
    return (
      inside === '' || (!inside.startsWith(`..${sep}`) && inside !== '..' && !isAbsolute(inside))
    );
  };
  const realRoots = await Promise.all(
    roots.map((root) => realpath(root).catch(() => resolve(root))),
  );
  // A missing path under a root is the owner's own mistake: the import says it does not exist.
  const path = real ?? resolve(repo);
  if (!realRoots.some((root) => under(path, root)))
    throw new ProjectPathNotAllowedError(repo, roots);
  return path;
}

/**
 * The whole repository at `path` on this host as a git bundle (`git bundle create --all`), so
 * the sandbox clones from a file and the host never writes into a workspace itself. The caller
 * removes the bundle's directory (`cleanup`).
 */
export async function bundleHostRepository(
  path: string,
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
  // The server often runs as root and the repository is a user's: git's ownership check would
  // refuse to read it, so it is waived for this one path. The repository's own config is not
  // trusted (CVE-2022-24765): no fsmonitor or hook command of it runs.
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
      { maxBuffer: 1024 * 1024 },
    );
  const where = await git('rev-parse', '--is-bare-repository', '--absolute-git-dir').catch(
    () => undefined,
  );
  if (!where) throw notRepository('');
  const [bare, gitDirectory] = where.stdout.trim().split('\n');
  const top =
    bare === 'true'
      ? gitDirectory
      : (await git('rev-parse', '--show-toplevel').catch(() => undefined))?.stdout.trim();
  // A directory inside a repository is not that repository: importing the enclosing one would
  // surprise whoever named the directory.
  if (top !== real) throw notRepository(top ? ` (it is inside ${top})` : '');
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
