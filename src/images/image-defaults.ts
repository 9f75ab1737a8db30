import { chmod, chown, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { processExists } from '../config/process-exists.ts';
import { uniqueSuffix } from '../config/unique-suffix.ts';

/**
 * What mags configures inside every image beyond Debian's and npm's defaults. Bump the version
 * when a file changes: a new layer directory is made beside the old one, so a mounted overlay's
 * lower layer is never written to (overlayfs.rst, "Changes to underlying filesystems").
 */
export const imageDefaultsVersion = 1;

/** Files relative to the sandbox's root, each visible only where the image has no such file. */
export const imageDefaultFiles: Readonly<Record<string, string>> = {
  // System level (git-config(1) FILES): a user's `git config --global`, `-c`, and the
  // GIT_AUTHOR_*/GIT_COMMITTER_* variables (--env, MAGS_GIT_NAME) all win over it.
  'etc/gitconfig': [
    '# Written by mags: an identity, so that `git commit` works in a fresh sandbox.',
    '# `git config --global user.name NAME` (or --env GIT_AUTHOR_NAME=...) overrides it.',
    '[user]',
    '\tname = mags',
    '\temail = mags@localhost',
    '',
  ].join('\n'),
  // npm's global config is $PREFIX/etc/npmrc and node lives in /usr/local (npm docs: npmrc).
  // The update check prints a notice on every command; the funding notice on every install.
  // Both are noise in an agent's output; audit stays on (it is a security signal).
  'usr/local/etc/npmrc': [
    '# Written by mags: no update or funding notices in every command output.',
    'update-notifier=false',
    'fund=false',
    '',
  ].join('\n'),
};

/**
 * Where the defaults layer for images whose files belong to host uid `uidBase` lives: one
 * directory per version and uid base under `${imagesRoot}/.defaults/`, shared by every image
 * (the name starts with a dot, so it is never taken for an image).
 */
export function imageDefaultsLayerPath(imagesRoot: string, uidBase: number): string {
  return join(imagesRoot, '.defaults', `v${imageDefaultsVersion}-uid${uidBase}`);
}

/**
 * Makes the defaults layer at `layerPath` unless it exists: written whole into a staging
 * directory beside it, then renamed into place, so a sandbox never mounts a half layer and two
 * processes creating it at once agree (the second rename fails on the first one's directory and
 * its staging copy is dropped). Files and directories belong to the sandbox's root (`uidBase`),
 * as an image's do, with Debian's modes; the layer is never changed once in place.
 */
export async function ensureImageDefaultsLayer(layerPath: string, uidBase: number): Promise<void> {
  if (await isDirectory(layerPath)) return;
  const parent = dirname(layerPath);
  await mkdir(parent, { recursive: true, mode: 0o711 });
  await chmod(parent, 0o711); // whatever the umask: the sandbox's host uid walks through it
  await removeAbandonedStaging(parent);
  const staging = join(parent, `.staging-${process.pid}-${uniqueSuffix()}`);
  try {
    await mkdir(staging, { mode: 0o755 });
    await giveToSandboxRoot(staging, uidBase, 0o755);
    for (const [relative, content] of Object.entries(imageDefaultFiles)) {
      const path = join(staging, relative);
      await makeDirectories(staging, dirname(relative), uidBase);
      await writeFile(path, content, { flag: 'wx' });
      await giveToSandboxRoot(path, uidBase, 0o644);
    }
    await rename(staging, layerPath).catch(async (error: NodeJS.ErrnoException) => {
      // rename(2): a non-empty target directory is ENOTEMPTY (or EEXIST): another process won.
      if (!['ENOTEMPTY', 'EEXIST'].includes(error.code ?? '') || !(await isDirectory(layerPath))) {
        throw error;
      }
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Each directory of `relative` under `root`, as the image has it: the sandbox's root's, 0755. */
async function makeDirectories(root: string, relative: string, uidBase: number): Promise<void> {
  let path = root;
  for (const part of relative.split('/')) {
    path = join(path, part);
    if (await isDirectory(path)) continue;
    await mkdir(path, { mode: 0o755 });
    await giveToSandboxRoot(path, uidBase, 0o755);
  }
}

/** The mode is set after creation so that the umask cannot narrow it: every user inside reads. */
async function giveToSandboxRoot(path: string, uidBase: number, mode: number): Promise<void> {
  await chmod(path, mode);
  // Without root (unit tests) a file cannot be given away; mags itself runs sandboxes as root.
  if (process.getuid?.() === 0) await chown(path, uidBase, uidBase);
}

/** Staging directories of processes that died while creating the layer (a crash, a kill). */
async function removeAbandonedStaging(parent: string): Promise<void> {
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    const pid = Number(/^\.staging-(\d+)-/.exec(entry)?.[1] ?? 0);
    if (pid > 0 && pid !== process.pid && !processExists(pid)) {
      await rm(join(parent, entry), { recursive: true, force: true });
    }
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}
