import { constants } from 'node:os';
import { GuestError } from './guest-process.ts';
import type { Frame } from './protocol.ts';

const { errno } = constants;

/**
 * What a file request's errno means for whoever asked: a missing file is the caller's 404, a
 * directory or a device the caller's 400, and only what nobody can fix by asking differently
 * (EIO, a full disk) stays a server-side error.
 */
const byErrno = new Map<
  number,
  { code: string; statusCode: number; hint?: string; retryable?: boolean }
>([
  [errno.ENOENT, { code: 'file_not_found', statusCode: 404 }],
  [errno.ENOTDIR, { code: 'file_not_found', statusCode: 404 }],
  [errno.EISDIR, { code: 'is_a_directory', statusCode: 400 }],
  // The agent answers EINVAL for anything not a regular file (/dev/zero, a FIFO), ENXIO is
  // open(2) of a socket.
  [errno.EINVAL, { code: 'not_a_regular_file', statusCode: 400 }],
  [errno.ENXIO, { code: 'not_a_regular_file', statusCode: 400 }],
  [errno.ENAMETOOLONG, { code: 'name_too_long', statusCode: 400 }],
  [errno.ELOOP, { code: 'too_many_symlinks', statusCode: 400 }],
  [errno.EACCES, { code: 'permission_denied', statusCode: 403 }],
  [errno.EPERM, { code: 'permission_denied', statusCode: 403 }],
  [errno.EROFS, { code: 'read_only', statusCode: 403 }],
  [
    errno.ENOSPC,
    { code: 'no_space', statusCode: 507, hint: 'Delete files in the sandbox and try again.' },
  ],
  [
    errno.EDQUOT,
    { code: 'no_space', statusCode: 507, hint: 'Delete files in the sandbox and try again.' },
  ],
  // The agent's file slots (MAX_FILES in native/agent.c) are all taken by transfers under way:
  // one ends, a slot frees, so the same request can succeed a moment later.
  [
    errno.EAGAIN,
    {
      code: 'too_many_transfers',
      statusCode: 503,
      retryable: true,
      hint: 'Too many file transfers at once in this sandbox: retry when some have finished.',
    },
  ],
]);

/** The agent's ERROR for a file read or write, with the status and code its errno calls for. */
export function fileErrorFromFrame(frame: Frame): GuestError {
  const error = GuestError.fromFrame(frame);
  const known = byErrno.get(error.errno);
  if (!known) return error; // no status: a server-side failure, detailed only in the server log
  return new GuestError(error.message, error.errno, known.code, {
    statusCode: known.statusCode,
    hint: known.hint,
    retryable: known.retryable,
  });
}
