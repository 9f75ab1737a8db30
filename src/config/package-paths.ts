import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/**
 * The package's root directory. The same code runs from `src/` (type-stripped by Node) and from
 * the bundle in `dist/`, so it walks up to the first directory holding `package.json`.
 */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('mags: cannot find the package root');
    directory = parent;
  }
  cachedRoot = directory;
  return directory;
}

/** Path of a helper binary built from `native/` (`npm run build`). `MAGS_NATIVE_DIR` overrides. */
export function nativeBinaryPath(
  name: 'mags-sandbox' | 'mags-agent' | 'mags-layer' | 'mags-vm-init',
): string {
  const directory = process.env.MAGS_NATIVE_DIR ?? join(packageRoot(), 'native', 'build');
  return join(directory, name);
}
