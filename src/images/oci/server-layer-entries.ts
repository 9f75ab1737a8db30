import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DependencyMissingError } from '../../errors/mags-error.ts';
import type { TarEntry } from './tar-blocks.ts';
import { treeEntries } from './tree-entries.ts';

/** Where the server image keeps mags, and the id it runs as (not root: deploy/kubernetes/). */
export const serverInstallPath = '/opt/mags';
export const serverUserId = 10001;
export const serverHomePath = '/var/lib/mags';

/**
 * The members of the server image's own layer: this package as npm installs it for production
 * (package.json, bin/, the built dist/, and the packages package-lock.json does not mark dev),
 * `mags` on the PATH, and a MAGS_HOME the server's user owns. Everything else belongs to root, so
 * the server cannot change its own code.
 */
export async function* serverLayerEntries(packageRoot: string): AsyncGenerator<TarEntry> {
  for (const required of ['dist/cli.js', 'bin/mags.js', 'package.json', 'package-lock.json']) {
    if (!(await stat(join(packageRoot, required)).catch(() => undefined))) {
      throw new DependencyMissingError(
        `${join(packageRoot, required)} is missing: the server image is made of the built package.`,
        { hint: 'Build it first: npm run build (after npm ci)' },
      );
    }
  }
  const install = serverInstallPath.slice(1);
  const seen = new Set<string>();
  function* directories(path: string): Generator<TarEntry> {
    const parts = path.split('/').filter(Boolean);
    for (let depth = 1; depth <= parts.length; depth++) {
      const directory = `${parts.slice(0, depth).join('/')}/`;
      if (seen.has(directory)) continue;
      seen.add(directory);
      yield { path: directory, type: 'directory', mode: 0o755, uid: 0, gid: 0 };
    }
  }
  // The package's files are root's, readable by all, executable where they were.
  const tree = (relative: string, exclude?: (path: string) => boolean) =>
    normalized(
      treeEntries(join(packageRoot, relative), {
        toImageId: () => 0,
        prefix: `${install}/${relative}/`,
        ...(exclude ? { exclude } : {}),
      }),
    );
  yield* directories(`${install}/`);
  const packageJson = await stat(join(packageRoot, 'package.json'));
  yield {
    path: `${install}/package.json`,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: packageJson.size,
    sourcePath: join(packageRoot, 'package.json'),
  };
  for (const relative of ['bin', 'dist']) {
    yield* directories(`${install}/${relative}/`);
    yield* tree(relative);
  }
  const lock = JSON.parse(await readFile(join(packageRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; link?: boolean }>;
  };
  const production = Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && !entry.dev && !entry.link)
    .map(([path]) => path)
    .sort();
  for (const path of production) {
    if (!(await stat(join(packageRoot, path)).catch(() => undefined))) {
      // An optional dependency for another platform is in the lock but not installed here.
      continue;
    }
    yield* directories(`${install}/${path}/`);
    // A package's own node_modules/ holds other lock entries, each taken (or not) on its own.
    yield* tree(path, (relative) => relative === 'node_modules');
  }
  yield* directories('usr/local/bin/');
  yield {
    path: 'usr/local/bin/mags',
    type: 'symlink',
    mode: 0o777,
    uid: 0,
    gid: 0,
    linkpath: `${serverInstallPath}/bin/mags.js`,
  };
  yield* directories('var/lib/');
  yield {
    path: `${serverHomePath.slice(1)}/`,
    type: 'directory',
    mode: 0o700,
    uid: serverUserId,
    gid: serverUserId,
  };
}

async function* normalized(entries: AsyncIterable<TarEntry>): AsyncGenerator<TarEntry> {
  for await (const entry of entries) {
    if (entry.type === 'symlink') yield entry;
    else if (entry.type === 'directory') yield { ...entry, mode: 0o755 };
    else yield { ...entry, mode: entry.mode & 0o111 ? 0o755 : 0o644 };
  }
}
