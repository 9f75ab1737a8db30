/**
 * What a sandbox's /dev may hold, whatever the runtime (GUIDE §2b: the harmless devices, a pts
 * instance, shm and the fd links): both runtimes' tests check a sandbox's /dev against it, and
 * native/sandbox.c and native/vm-init.c each make exactly these.
 */
export const minimalDevEntries = [
  'null',
  'zero',
  'full',
  'random',
  'urandom',
  'tty',
  'pts',
  'ptmx',
  'shm',
  'fd',
  'stdin',
  'stdout',
  'stderr',
];
