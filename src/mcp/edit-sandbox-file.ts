import { posix } from 'node:path';
import { ConflictError, InvalidInputError, MagsError } from '../errors/mags-error.ts';
import type { Mags } from '../sdk/mags.ts';
import { readSandboxBytes } from './read-sandbox-bytes.ts';
import { type Replacement, replaceText } from './replace-text.ts';

/** file_edit reads and writes whole files: larger ones are refused rather than half-edited. */
export const maxEditBytes = 4 * 1024 * 1024;

export interface FileEdit {
  sandbox: string;
  path: string;
  oldString: string;
  newString: string;
  replaceAll?: boolean;
  /** The tool call's: a cancelled call stops its reads (the write, once sent, completes). */
  signal?: AbortSignal;
}

export interface FileEditResult extends Replacement {
  /** The file written: `path`, or the file a symlink at `path` leads to. */
  writtenPath: string;
}

/**
 * Replaces text in a sandbox file, keeping every other byte as it was (a byte-order mark, line
 * ends), writing through symlinks to the file they name with that file's permission bits, and
 * refusing to write when the file changed while the edit was made (another writer's change is
 * never lost silently).
 */
export async function editSandboxFile(client: Mags, edit: FileEdit): Promise<FileEditResult> {
  const { signal } = edit;
  const before = await readSandboxBytes(client, edit.sandbox, edit.path, maxEditBytes, signal);
  if (before.truncated) {
    throw new InvalidInputError(`${edit.path} is over the ${maxEditBytes} bytes file_edit reads.`, {
      code: 'too_large',
      hint: 'Nothing was changed. Edit it with run_command (sed, a script) instead.',
    });
  }
  const content = decodeText(before.bytes, edit.path);
  const target = await resolveFile(client, edit.sandbox, edit.path, signal);
  const replacement = replaceText(content, edit, maxEditBytes);
  // Just before writing: the file must still be what the edit was made on.
  const now = await readSandboxBytes(client, edit.sandbox, target.path, maxEditBytes, signal);
  if (now.truncated || !Buffer.from(now.bytes).equals(before.bytes)) {
    throw new ConflictError(`${edit.path} changed while the edit was being made.`, {
      code: 'file_changed',
      retryable: true,
      hint: 'Nothing was changed. file_read it again and redo the edit on what it holds now.',
    });
  }
  signal?.throwIfAborted();
  await client.sandboxes.files.write(edit.sandbox, target.path, replacement.bytes, {
    mode: target.mode,
  });
  return { ...replacement, writtenPath: target.path };
}

/**
 * The file as text: UTF-8 checked over every byte (not only a sample), a byte-order mark kept
 * as U+FEFF so it is written back; anything else is refused, as writing decoded text back would
 * change the bytes that are not UTF-8.
 */
function decodeText(bytes: Uint8Array, path: string): string {
  const notText = (what: string) =>
    new InvalidInputError(`${path} ${what}; file_edit edits UTF-8 text files only.`, {
      code: 'binary_file',
      hint: 'Nothing was changed. Use run_command to change it.',
    });
  if (bytes.includes(0)) throw notText('is a binary file (it has NUL bytes)');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw notText('is not UTF-8 text');
  }
}

/**
 * The regular file at `path` and its permission bits: from a listing of its directory (a
 * listing is not a job) for a plain file; from a command run in the sandbox (readlink -f, stat
 * -L) for a symlink, or when the directory holds more entries than a listing returns.
 */
async function resolveFile(
  client: Mags,
  sandbox: string,
  path: string,
  signal: AbortSignal | undefined,
): Promise<{ path: string; mode: number | undefined }> {
  const current = posix.resolve('/', path);
  const listing = await client.sandboxes.files.list(sandbox, posix.dirname(current));
  const entry = listing.entries.find((candidate) => candidate.name === posix.basename(current));
  if (!entry) {
    if (listing.truncated) return statWithCommand(client, sandbox, current, signal);
    // Gone since it was read: the write will make it again, with the default bits.
    return { path: current, mode: undefined };
  }
  if (entry.type === 'symlink') {
    // Only the kernel resolves a target right: `..` after a symlinked directory is not the
    // lexical parent, and a wrong guess could edit a copy with the same bytes.
    return statWithCommand(client, sandbox, current, signal);
  }
  return { path: current, mode: Number.parseInt(entry.mode, 8) & 0o7777 };
}

async function statWithCommand(
  client: Mags,
  sandbox: string,
  path: string,
  signal: AbortSignal | undefined,
): Promise<{ path: string; mode: number }> {
  const { exitCode, stdout, stderr } = await client.sandboxes.execAndWait(
    sandbox,
    ['sh', '-c', 'readlink -f -- "$1" && stat -L -c %a -- "$1"', 'sh', path],
    { signal },
  );
  const [resolved, mode] = stdout.trim().split('\n');
  if (exitCode !== 0 || !resolved || !mode || !/^[0-7]{3,4}$/.test(mode)) {
    throw new MagsError(`Could not read the permission bits of ${path}: ${stderr.trim()}`, {
      code: 'stat_failed',
      hint: 'Nothing was changed. Make the change with run_command instead.',
    });
  }
  return { path: resolved, mode: Number.parseInt(mode, 8) };
}
