import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The data directory: images, workspaces, running sandboxes. `MAGS_HOME` overrides the default,
 * which is `/var/lib/mags` for root (like other container engines: root's home is mode 0700, and
 * the sandbox's unprivileged host uid must be able to walk down to its layers) and `~/.mags` for
 * anyone else.
 */
export function resolveMagsHome(environment: NodeJS.ProcessEnv = process.env): string {
  const configured = environment.MAGS_HOME;
  if (configured) return resolve(configured);
  return process.getuid?.() === 0 ? '/var/lib/mags' : join(homedir(), '.mags');
}
