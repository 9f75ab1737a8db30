import { MagsError } from '../../errors/mags-error.ts';
import type { Mags } from '../../sdk/mags.ts';

export interface DirectoryEntry {
  name: string;
  type: 'directory' | 'file' | 'link' | 'other';
  sizeBytes: number;
}

const types: Record<string, DirectoryEntry['type']> = { d: 'directory', f: 'file', l: 'link' };

/**
 * A directory's entries inside the sandbox. The files API reads and writes single files but has
 * no listing, so this runs GNU find in the sandbox through the public exec API (the command as
 * an argv, never through a shell): one `type TAB size TAB name NUL` record per entry, NUL ends
 * because a name may hold any other byte. Directories first, then by name.
 */
export async function listDirectory(
  mags: Mags,
  sandbox: string,
  path: string,
): Promise<DirectoryEntry[]> {
  const { exitCode, stdout, stderr } = await mags.sandboxes.execAndWait(sandbox, [
    'find',
    path,
    '-mindepth',
    '1',
    '-maxdepth',
    '1',
    '-printf',
    '%y\\t%s\\t%f\\0',
  ]);
  if (exitCode !== 0) {
    throw new MagsError(stderr.trim() || `Listing ${path} failed (exit code ${exitCode}).`, {
      code: 'list_failed',
      hint: 'Is it a directory the sandbox can read?',
    });
  }
  return stdout
    .split('\0')
    .filter((record) => record !== '')
    .map((record) => {
      const [type = '', size = '0', ...name] = record.split('\t');
      return { type: types[type] ?? 'other', sizeBytes: Number(size), name: name.join('\t') };
    })
    .sort((left, right) =>
      (left.type === 'directory') === (right.type === 'directory')
        ? left.name.localeCompare(right.name)
        : left.type === 'directory'
          ? -1
          : 1,
    );
}

/** `/a/b` + `c` → `/a/b/c`; `/` + `c` → `/c`. */
export function joinPath(directory: string, name: string): string {
  return `${directory.replace(/\/+$/, '')}/${name}`;
}

/** The parent of an absolute path (`/` stays `/`). */
export function parentPath(path: string): string {
  const parent = path.replace(/\/+$/, '').replace(/\/[^/]*$/, '');
  return parent === '' ? '/' : parent;
}
