import { closeSync, openSync, readSync } from 'node:fs';

/**
 * `prefix` followed by `bytes` random bytes (base64url): an id nobody can guess (jobs, uploads).
 * The bytes come from /dev/urandom, the kernel's CSPRNG that node:crypto reads too, because
 * importing node:crypto alone costs a CLI run a few milliseconds; node:crypto where there is no
 * /dev/urandom.
 */
export function randomId(prefix: string, bytes = 12): string {
  const buffer = Buffer.alloc(bytes);
  let read = 0;
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      read = readSync(fd, buffer, 0, bytes, null);
    } finally {
      closeSync(fd);
    }
  } catch {}
  if (read !== bytes) {
    const crypto = process.getBuiltinModule('node:crypto') as typeof import('node:crypto');
    crypto.randomFillSync(buffer);
  }
  return `${prefix}${buffer.toString('base64url')}`;
}
