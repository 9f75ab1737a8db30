import { chmod, chown, lstat, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { uniqueSuffix } from '../config/unique-suffix.ts';

/**
 * What mags configures inside an image beyond Debian's and npm's defaults. Bump the version when
 * the list grows: images built before it get the new files when they are next used
 * (`applyImageDefaults`), so an existing install need not rebuild its image.
 */
export const imageDefaultsVersion = 1;

/** Files relative to the image's rootfs, each written only when the image does not have it. */
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
 * Writes each default file the rootfs lacks (a file the image has, even a user's own, is kept),
 * owned like the directory it lands in, so the same step serves a build (before ownership is
 * shifted) and an image built before (already shifted). A missing directory skips its file.
 * Each file appears whole (written aside, then renamed). Returns the files written.
 */
export async function writeImageDefaults(rootfs: string): Promise<string[]> {
  const written: string[] = [];
  for (const [relative, content] of Object.entries(imageDefaultFiles)) {
    const path = join(rootfs, relative);
    if (await lstat(path).catch(() => undefined)) continue;
    const parent = await stat(dirname(path)).catch(() => undefined);
    if (!parent?.isDirectory()) continue;
    const staging = `${path}.mags-${uniqueSuffix()}`;
    try {
      await writeFile(staging, content, { mode: 0o644, flag: 'wx' });
      await chmod(staging, 0o644); // not narrowed by the umask: every user inside reads it
      await chown(staging, parent.uid, parent.gid);
      await rename(staging, path);
    } finally {
      await rm(staging, { force: true });
    }
    written.push(relative);
  }
  return written;
}

/**
 * Brings an image built by an older mags up to `imageDefaultsVersion`: its missing default files
 * are added and image.json records the version, so this runs once per image. Adding a file under
 * a lower layer that mounted overlays use is safe in practice (a lookup that missed it before
 * may miss it until the next mount). Idempotent: two processes doing it at once agree.
 */
export async function applyImageDefaults(imageDirectory: string): Promise<void> {
  const infoPath = join(imageDirectory, 'image.json');
  const info = JSON.parse(await readFile(infoPath, 'utf8')) as { defaultsVersion?: number };
  if ((info.defaultsVersion ?? 0) >= imageDefaultsVersion) return;
  await writeImageDefaults(join(imageDirectory, 'rootfs'));
  const staging = `${infoPath}.mags-${uniqueSuffix()}`;
  await writeFile(
    staging,
    `${JSON.stringify({ ...info, defaultsVersion: imageDefaultsVersion }, null, 2)}\n`,
  );
  await rename(staging, infoPath);
}
