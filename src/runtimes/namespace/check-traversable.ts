import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DependencyMissingError } from '../../errors/mags-error.ts';

/**
 * The overlay is mounted with the sandbox's credentials (an unprivileged host uid), so every
 * directory above a layer must let that uid through. Checked up front because the kernel's
 * answer is a bare EACCES from mount(2).
 */
export async function assertTraversable(paths: string[], uid: number): Promise<void> {
  const seen = new Set<string>();
  for (const path of paths) {
    for (let directory = dirname(path); !seen.has(directory); directory = dirname(directory)) {
      seen.add(directory);
      const stats = await stat(directory);
      const passes = stats.mode & 0o001 || (stats.uid === uid && stats.mode & 0o100);
      if (!passes) {
        throw new DependencyMissingError(
          `The sandbox cannot reach ${path}: ${directory} is not traversable by its host uid ${uid}.`,
          {
            hint: `Keep MAGS_HOME outside private directories (the default for root is /var/lib/mags), or run: chmod o+x ${directory}`,
          },
        );
      }
      if (directory === '/') break;
    }
  }
}
