import type { DirectoryEntry, DirectoryListing } from '../api/directory-listing.ts';
import {
  InvalidInputError,
  MagsError,
  NotFoundError,
  PermissionDeniedError,
} from '../errors/mags-error.ts';
import { sandboxEnvironment } from './sandbox-spec.ts';
import type { SandboxUse } from './sandbox-use.ts';

/** Fields per entry in find's output, each ended by a NUL: a name may hold any other byte. */
const fields = ['type', 'sizeBytes', 'mode', 'modifiedAt', 'target', 'name'] as const;
const format = '%y\\0%s\\0%m\\0%T@\\0%l\\0%f\\0';
const types: Record<string, DirectoryEntry['type']> = {
  d: 'directory',
  f: 'file',
  l: 'symlink',
};

/**
 * A directory's entries, read inside the sandbox by GNU find run through the guest directly
 * (a fixed argv, no shell, and no job: listings stay out of the owner's jobs). The guest agent
 * has no listing operation, and find prints everything `stat` says in one pass. The directory
 * itself comes first (`-H` follows it when it is a symlink): a file there is a 400, a missing
 * path a 404. Sorted by name; past `maxEntries` the rest is left out and `truncated` says so
 * (the first ones find met, sorted: a directory that big wants a more precise path).
 */
export async function listSandboxDirectory(
  use: SandboxUse,
  path: string,
  maxEntries: number,
): Promise<DirectoryListing> {
  try {
    const command = use.sandbox.exec({
      argv: ['find', '-H', path, '-maxdepth', '1', '-printf', format],
      env: sandboxEnvironment({ LC_ALL: 'C' }),
      cwd: '/',
    });
    const records: Buffer[][] = [];
    let current: Buffer[] = [];
    let rest = Buffer.alloc(0);
    let truncated = false;
    const stderr: Buffer[] = [];
    command.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 64) stderr.push(chunk);
    });
    for await (const chunk of command.stdout as AsyncIterable<Buffer>) {
      if (truncated) continue; // drained until the kill lands
      rest = Buffer.concat([rest, chunk]);
      for (let end = rest.indexOf(0); end !== -1; end = rest.indexOf(0)) {
        current.push(rest.subarray(0, end));
        rest = rest.subarray(end + 1);
        if (current.length < fields.length) continue;
        records.push(current);
        current = [];
        if (records.length > maxEntries + 1) {
          truncated = true;
          records.pop();
          command.signal('SIGKILL');
          break;
        }
      }
    }
    const result = await command.exited;
    const [self, ...entries] = records.map(toEntry);
    if (!truncated && (result.exitCode !== 0 || !self)) {
      throw findFailed(path, Buffer.concat(stderr).toString('utf8'));
    }
    if (self?.type !== 'directory') {
      throw new InvalidInputError(`${path} is not a directory.`, {
        code: 'not_a_directory',
        hint: 'Read a file with GET /v1/sandboxes/{name}/files?path=...',
      });
    }
    entries.sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
    return { path, entries, truncated };
  } finally {
    use.release();
  }
}

function toEntry(record: Buffer[]): DirectoryEntry {
  const [type, size, mode, modified, target, name] = record.map((field) =>
    // Names that are not UTF-8 are shown as text, their odd bytes as U+FFFD.
    field.toString('utf8'),
  ) as [string, string, string, string, string, string];
  const seconds = Number(modified);
  return {
    name,
    type: types[type] ?? 'other',
    sizeBytes: Number(size),
    mode: mode.padStart(4, '0'),
    modifiedAt: Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : null,
    ...(type === 'l' ? { target } : {}),
  };
}

/** find's complaint about the path, as the caller's 404 or 403 where it is one. */
function findFailed(path: string, stderr: string): MagsError {
  if (stderr.includes('No such file or directory') || stderr.includes('Not a directory')) {
    return new NotFoundError(`No directory ${path} in the sandbox.`, {
      code: 'file_not_found',
      hint: 'Check the path: it is absolute, inside the sandbox (e.g. /workspace).',
    });
  }
  if (stderr.includes('Permission denied')) {
    return new PermissionDeniedError(`The sandbox may not read ${path}.`);
  }
  return new MagsError(`Listing ${path} failed: ${stderr.trim().slice(0, 500) || 'find failed'}`, {
    code: 'list_failed',
  });
}
