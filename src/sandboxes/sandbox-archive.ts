/**
 * Directory trees in and out of a sandbox as tar streams, packed and unpacked by the image's own
 * GNU tar, run through the guest agent as a command (stdin and stdout flow-controlled by
 * STDIN_ACK and OUTPUT_ACK: the tree is never whole in memory, here or in the agent).
 *
 * Safe by construction, not by checks: tar runs inside the sandbox as the sandbox's root, so a
 * symlink to `/` or an entry `../../x` in an uploaded archive reaches only what the sandbox's
 * root reaches anyway (its own filesystem), never the host. The host-side extraction of a
 * download (src/sdk/local-tree.ts) is the side that must refuse such entries.
 */
import { PassThrough, type Readable } from 'node:stream';
import { splitArchivePath } from '../api/archive-path.ts';
import { ConflictError, MagsError, NotFoundError } from '../errors/mags-error.ts';
import type { Sandbox, SandboxProcess } from '../runtimes/runtime.ts';
import { uploadTooLarge } from './sandbox-files.ts';
import { sandboxEnvironment } from './sandbox-spec.ts';

export interface ExtractArchiveRequest {
  /** Absolute directory in the sandbox the archive's entries land in (made when missing). */
  path: string;
  /** The tar stream, stepped with `next()` only: a refused upload's rest can still be drained. */
  data: AsyncIterator<Buffer>;
  /** An archive over this many bytes is refused (413 `too_large`) and leaves nothing behind. */
  maxBytes: number;
  /** The length the client announced: over `maxBytes`, refused before any byte. */
  declaredBytes?: number;
  /**
   * Aborted (e.g. Ctrl-C), the upload fails with the signal's reason even while it waits on a
   * stalled sandbox (its stdin full), and cleans up like any refusal.
   */
  signal?: AbortSignal;
}

/** Exit status of the extract script when a directory would meet a file (EX_DATAERR). */
const conflictExit = 65;

/**
 * The upload, inside the sandbox: tar extracts into a fresh staging directory inside DEST (the
 * same filesystem), and only a complete, successful extraction is moved into place, entry by
 * entry: renamed when nothing is there yet (one step, whatever the tree's size), merged into what
 * is there otherwise (`cp -l`: hard links, no copy of the data; a plain copy where linking fails,
 * e.g. across a mount; 10,000 files take ~0.3 s here against ~3 ms for the rename).
 *
 * Every place where a directory would replace a file (or the other way round) is looked for
 * before anything moves, so such an upload changes nothing. A failed or refused upload (tar's
 * error, the size limit, a client gone) removes the staging directory and leaves DEST as it was;
 * only a merge failing halfway (a full disk in the plain-copy fallback) leaves part of it moved.
 * `mv -T` renames onto the exact name: a directory that appeared there meanwhile is never nested
 * into. A SIGKILL skips the trap: staging directories over an hour old are removed by the next
 * upload into DEST (only a concurrent upload into the same DEST still extracting after an hour
 * would lose its own: uploads are bounded by the upload limit).
 * Files belong to the sandbox's root like any other upload (`--no-same-owner`: the client's uids
 * mean nothing here); modes are kept.
 */
const extractScript = `set -eu
dest=$1
mkdir -p -- "$dest"
find "$dest" -mindepth 1 -maxdepth 1 -type d -name '.mags-upload-*' -mmin +60 \\
  -exec rm -rf -- {} + 2>/dev/null || true
staging=$(mktemp -d -- "$dest/.mags-upload-XXXXXX")
trap 'rm -rf -- "$staging"' EXIT
trap 'exit 143' TERM
tar -x --no-same-owner -C "$staging" -f -
cd -- "$staging"
find . -mindepth 1 -exec sh -c '
  dest=$1; shift; status=0
  for p; do
    t=$dest/\${p#./}
    if [ -d "$p" ] && [ ! -L "$p" ]; then
      if [ -L "$t" ]; then
        echo "cannot replace the symlink $t with a directory" >&2; status=1
      elif [ -e "$t" ] && [ ! -d "$t" ]; then
        echo "cannot replace the file $t with a directory" >&2; status=1
      fi
    elif [ -d "$t" ] && [ ! -L "$t" ]; then
      echo "cannot replace the directory $t with a file" >&2; status=1
    fi
  done
  exit $status' mags-check "$dest" {} + || exit ${conflictExit}
for entry in * .[!.]* ..?*; do
  [ -e "$entry" ] || [ -L "$entry" ] || continue
  if [ ! -e "$dest/$entry" ] && [ ! -L "$dest/$entry" ]; then
    mv -T -- "$entry" "$dest/$entry"
    continue
  fi
  cp -a -l --remove-destination -- "$entry" "$dest/" 2>/dev/null ||
    cp -a --remove-destination -- "$entry" "$dest/"
done
`;

/** Exit status of the pack script when the path does not exist (EX_NOINPUT). */
const missingPathExit = 66;

/**
 * The download, inside the sandbox: one top-level entry, the path's own name, packed from its
 * parent. Links stay links (never `-h`): a symlink is copied as the symlink it is.
 */
const packScript = `set -eu
if [ ! -e "$1/$2" ] && [ ! -L "$1/$2" ]; then
  echo "no such file or directory: $1/$2" >&2
  exit ${missingPathExit}
fi
exec tar -c -C "$1" -f - -- "$2"
`;

/**
 * `promise`, or the signal's reason once it is aborted first. A listener per wait, removed when
 * it settles: racing every chunk against one never-settling promise would keep each chunk
 * reachable from that promise's reactions (the whole upload in memory).
 */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Keeps the last 16 KiB of a command's stderr: what goes into an error message. */
function stderrTail(command: SandboxProcess): () => string {
  let tail = Buffer.alloc(0);
  command.stderr.on('data', (chunk: Buffer) => {
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > 16384) tail = tail.subarray(tail.length - 16384);
  });
  return () => tail.toString('utf8').trim();
}

/**
 * Streams a tar archive into the sandbox and extracts it under `request.path` (see the script
 * above for what a failure leaves). Over `maxBytes`, declared or counted as it streams, refused
 * with 413 `too_large`.
 */
export async function extractArchiveInSandbox(
  sandbox: Sandbox,
  request: ExtractArchiveRequest,
): Promise<void> {
  const { path, maxBytes } = request;
  if (request.declaredBytes !== undefined && request.declaredBytes > maxBytes) {
    throw uploadTooLarge(maxBytes);
  }
  const command = sandbox.exec({
    argv: ['/bin/sh', '-c', extractScript, 'mags-upload', path],
    env: sandboxEnvironment({ LC_ALL: 'C' }),
    cwd: '/',
    stdin: true,
  });
  const stderr = stderrTail(command);
  command.stdout.resume();
  let ended = false;
  const exited = command.exited.finally(() => {
    ended = true;
  });
  exited.catch(() => {});
  let total = 0;
  let refusal: unknown;
  const { signal } = request;
  try {
    const next = () => abortable(request.data.next(), signal);
    for (let chunk = await next(); !chunk.done; chunk = await next()) {
      total += chunk.value.length;
      if (total > maxBytes) {
        refusal = uploadTooLarge(maxBytes);
        break;
      }
      if (ended) break; // tar gave up (its error says why): the rest is not needed
      command.writeStdin(chunk.value);
      await abortable(Promise.resolve(command.stdinDrained?.()), signal);
    }
  } catch (error) {
    refusal = error; // the client went away, or its stream failed
  }
  if (refusal !== undefined) {
    // SIGTERM, not SIGKILL: the script's trap removes the staging directory on its way out.
    command.signal('SIGTERM');
    await exited.catch(() => {});
    throw refusal;
  }
  command.closeStdin();
  const result = await exited;
  if (result.exitCode === conflictExit) {
    const conflicts = stderr().split('\n');
    const shown = conflicts.slice(0, 5).join('; ') + (conflicts.length > 5 ? '; ...' : '');
    throw new ConflictError(`Nothing was copied into ${path}: ${shown}.`, {
      code: 'archive_conflict',
      hint: 'Copy to another path, or remove what is in the way first.',
    });
  }
  if (result.exitCode !== 0) throw archiveFailed('Extracting into', path, result, stderr());
}

/**
 * Streams a tar archive of `path` (a file, a directory tree or a symlink) out of the sandbox.
 * Resolves once tar has begun to write (a missing path is a 404 before any byte); a tar that
 * fails later ends the stream with an error instead of a clean end, so a cut-short archive is
 * never taken for a whole one. Destroying the stream kills tar.
 */
export async function packArchiveInSandbox(sandbox: Sandbox, path: string): Promise<Readable> {
  const { parent, name } = splitArchivePath(path);
  const command = sandbox.exec({
    argv: ['/bin/sh', '-c', packScript, 'mags-download', parent, name],
    env: sandboxEnvironment({ LC_ALL: 'C' }),
    cwd: '/',
  });
  const stderr = stderrTail(command);
  const exited = command.exited;
  exited.catch(() => {});
  // Waits for tar's first byte or its end, whichever comes first. A 'readable' listener puts the
  // stream in paused mode (it would stop the pipe below), so it is removed once settled.
  const stdout = command.stdout;
  let check = () => {};
  const begun = await new Promise<boolean>((resolve) => {
    check = () => {
      if (stdout.readableLength > 0) resolve(true);
    };
    stdout.on('readable', check);
    stdout.once('end', () => resolve(false));
    exited.then(
      () => setImmediate(() => resolve(stdout.readableLength > 0)),
      () => resolve(false),
    );
  });
  stdout.off('readable', check);
  if (!begun) {
    const result = await exited; // a dropped connection rejects with its own MagsError
    if (result.exitCode === missingPathExit) {
      throw new NotFoundError(`No file or directory ${path} in the sandbox.`, {
        code: 'file_not_found',
        hint: 'Check the path: it is absolute, inside the sandbox (e.g. /workspace/src).',
      });
    }
    throw archiveFailed('Packing', path, result, stderr());
  }
  const output = new PassThrough({ highWaterMark: 256 * 1024 });
  command.stdout.pipe(output, { end: false });
  let finished = false;
  const stdoutEnded = new Promise<void>((resolve) => {
    command.stdout.once('end', resolve);
    command.stdout.once('close', resolve);
  });
  void Promise.all([exited, stdoutEnded]).then(
    ([result]) => {
      finished = true;
      // GNU tar: 1 means a file changed while it was read (the archive is still whole), 2 is fatal.
      if (result.exitCode === 0 || result.exitCode === 1) output.end();
      else output.destroy(archiveFailed('Packing', path, result, stderr()));
    },
    (error: unknown) => {
      finished = true;
      output.destroy(error instanceof Error ? error : new Error(String(error)));
    },
  );
  output.once('close', () => {
    if (!finished) {
      command.signal('SIGKILL');
      command.stdout.destroy();
    }
  });
  return output;
}

function archiveFailed(
  action: string,
  path: string,
  result: { exitCode: number | null; signal: string | null },
  stderr: string,
): MagsError {
  const how = result.signal ? `was killed (${result.signal})` : `exited with ${result.exitCode}`;
  const noTar = result.exitCode === 127 && /tar/.test(stderr);
  return new MagsError(
    `${action} ${path} in the sandbox failed: tar ${how}: ${stderr || '(no message)'}`,
    {
      code: 'archive_failed',
      // What tar refuses is mostly the request's doing (a file where a directory must go, a full
      // disk); a missing tar is the image's (424, a 4xx: the owner is told, not only the log).
      statusCode: noTar ? 424 : 400,
      hint: noTar
        ? 'The image has no tar: install it in the image (apt-get install tar) to copy trees.'
        : /No space left/.test(stderr)
          ? "The sandbox's disk is full: free space, or give the workspace a larger --disk."
          : "The message above is tar's, from inside the sandbox.",
    },
  );
}
