import { InvalidInputError } from '../errors/mags-error.ts';

/**
 * `/a/b/c` → parent `/a/b`, name `c`: a tree copy names its one top-level entry after the path's
 * last part and extracts it in (or packs it from) the parent. The root itself is no such entry.
 */
export function splitArchivePath(path: string): { parent: string; name: string } {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  const name = trimmed.slice(slash + 1);
  if (!trimmed.startsWith('/') || name === '' || name === '.' || name === '..') {
    throw new InvalidInputError(`Cannot copy ${JSON.stringify(path)} as a tree.`, {
      hint: 'Give an absolute path below / that names a file or directory, e.g. /workspace/src.',
    });
  }
  return { parent: trimmed.slice(0, slash) || '/', name };
}
