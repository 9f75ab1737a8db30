/**
 * A fixture's repository as a real git repository on this host (the files of repo/, one commit),
 * for `mags project create --repo PATH` to import. Hidden tests and the fix are never in it.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { FixtureFile } from './fixture.ts';

const run = promisify(execFile);

/** The same commit id every time: fixed author, committer and dates. */
const gitEnvironment = {
  GIT_AUTHOR_NAME: 'mags eval',
  GIT_AUTHOR_EMAIL: 'eval@mags.invalid',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_NAME: 'mags eval',
  GIT_COMMITTER_EMAIL: 'eval@mags.invalid',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

/** `files` committed in a new repository under `parent` (a temporary directory by default). */
export async function createFixtureRepository(
  name: string,
  files: readonly FixtureFile[],
  parent?: string,
): Promise<{ path: string; commit: string }> {
  const path = await mkdtemp(join(parent ?? tmpdir(), `mags-eval-${name}-`));
  for (const file of files) {
    const target = join(path, file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content);
  }
  const git = (...args: string[]) =>
    run('git', args, { cwd: path, env: { ...process.env, ...gitEnvironment } });
  await git('init', '--quiet', '--initial-branch=main');
  await git('add', '--all');
  await git('commit', '--quiet', '--message', `${name}: the repository before the ticket`);
  const { stdout } = await git('rev-parse', 'HEAD');
  return { path, commit: stdout.trim() };
}
