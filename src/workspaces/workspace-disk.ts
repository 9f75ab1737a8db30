import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readFile, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { formatMiB, parseSizeMiB } from '../config/byte-sizes.ts';
import {
  type ConflictError,
  DependencyMissingError,
  InvalidInputError,
  MagsError,
} from '../errors/mags-error.ts';
import { acquireLock } from './workspace-lock.ts';

const execFileAsync = promisify(execFile);

/**
 * A workspace's disk: a sparse ext4 image, loop-mounted on the host and kept mounted, that holds
 * the overlay's `upper/` and `work/`. The filesystem is the quota: a writer past its size gets
 * ENOSPC, and the host never loses more than the image's size.
 */
export interface DiskUsage {
  usedBytes: number;
  sizeBytes: number;
  /** What an unprivileged writer can still write (no blocks are reserved for root: `-m 0`). */
  freeBytes: number;
}

const mebibyte = 1024 * 1024;

/**
 * The disk's files in a workspace's directory: the image, where it is mounted (holding `upper/`
 * and `work/`), and the lock under which it is mounted, grown or checked. Not the workspace's own
 * lock: a running sandbox holds that one for its whole life.
 */
export function diskFiles(directory: string) {
  return {
    imagePath: join(directory, 'disk.ext4'),
    mountPoint: join(directory, 'layer'),
    mountLockPath: join(directory, 'mount.lock'),
  };
}

/** The smallest disk mkfs.ext4 makes with a journal and room left for files. */
export const minimumDiskMiB = 32;

/** `--disk` (or `MAGS_DISK`): `512m`, `20g`, `1t`, plain MiB; at least what ext4 needs. */
export function parseDiskMiB(value: string, flag = '--disk'): number {
  return parseSizeMiB(value, flag, minimumDiskMiB);
}

/**
 * Creates the image and its filesystem. Sparse with lazy initialisation, so a 10 GiB disk costs a
 * few MiB of host disk and ~50 ms until something is written; no reserved blocks (`-m 0`): the
 * size given is what the sandbox gets. The root belongs to the sandbox's root user.
 */
export async function createDisk(imagePath: string, sizeMiB: number, rootOwner: number) {
  const file = await open(imagePath, 'wx', 0o600);
  try {
    await file.truncate(sizeMiB * mebibyte);
  } finally {
    await file.close();
  }
  await runTool('mkfs.ext4', [
    '-q',
    '-F',
    '-m',
    '0',
    '-E',
    `lazy_itable_init=1,lazy_journal_init=1,root_owner=${rootOwner}:${rootOwner}`,
    imagePath,
  ]);
}

/**
 * Mounts the image once, however many processes ask at the same time (a CLI run beside a server):
 * the check and the mount happen under one flock. `discard` hands the blocks of deleted files
 * back to the host (the loop driver punches holes in the image).
 */
export async function mountDisk(imagePath: string, mountPoint: string, lockPath: string) {
  await runTool('flock', [
    lockPath,
    'sh',
    '-c',
    'mountpoint -q "$1" || mount -o loop,discard,nosuid,nodev "$2" "$1"',
    'sh',
    mountPoint,
    imagePath,
  ]);
}

/** Unmounts the disk if it is mounted. */
export async function unmountDisk(mountPoint: string) {
  await runTool('sh', ['-c', '! mountpoint -q "$1" || umount "$1"', 'sh', mountPoint]);
}

/**
 * Makes `directory` a shared mount (once): a disk mounted under it later then also appears in the
 * mount namespaces of sandboxes started before (a server's pool prepares them ahead of time and
 * attaches the layers later), and unmounting it on the host unmounts it there too. The launcher
 * makes its namespace private only after the attach (native/sandbox.c), so what propagates stops
 * at that point. Measured here: a mount under the shared directory is visible in a namespace
 * cloned before it, and its umount propagates (mount_namespaces(7), "shared subtrees").
 */
export async function ensureSharedMount(directory: string, lockPath: string) {
  // Once shared it stays shared: the common case is one read of mountinfo, not three processes
  // (it is on the path of every prepared sandbox, a CLI run's head start included).
  if (await isSharedMountPoint(directory)) return;
  await runTool('flock', [
    lockPath,
    'sh',
    '-c',
    [
      'test "$(findmnt -n -o PROPAGATION --mountpoint "$1")" = shared && exit 0',
      'mountpoint -q "$1" || mount --rbind "$1" "$1"',
      'mount --make-rshared "$1"',
    ].join('\n'),
    'sh',
    directory,
  ]);
}

/** Whether `directory` is a mount point with shared propagation (proc(5), /proc/self/mountinfo). */
async function isSharedMountPoint(directory: string): Promise<boolean> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // Fields: id, parent, major:minor, root, mount point, options, optional fields..., "-", ...
  // The last line for a mount point is the mount on top, the one that counts.
  let shared = false;
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const mountPoint = fields[4]?.replace(/\\([0-7]{3})/g, (_, octal: string) =>
      String.fromCharCode(Number.parseInt(octal, 8)),
    );
    if (mountPoint !== directory) continue;
    const optional = fields.slice(6, fields.indexOf('-'));
    shared = optional.some((field) => field.startsWith('shared:'));
  }
  return shared;
}

/**
 * Grows a disk: unmounts it, then grows the image and its filesystem (resize2fs wants a checked
 * filesystem). Not online: ext4's online resize needs CAP_SYS_RESOURCE, which root lacks in some
 * containers (this build machine's, for one). The caller holds the workspace's lock (no sandbox
 * uses the disk); this holds `lockPath`, the lock `mountDisk` takes, for the whole of it, so no
 * other request (a run, a listing on another server process) mounts the image half resized.
 */
export async function growDisk(
  imagePath: string,
  mountPoint: string,
  lockPath: string,
  sizeMiB: number,
  busyError: () => ConflictError,
) {
  const lock = await acquireLock(lockPath, 'exclusive', busyError, { wait: true });
  try {
    await unmountDisk(mountPoint);
    // A loop device still on the image (a mount elsewhere, a `losetup` by hand) would see its
    // filesystem change underneath it: e2fsck and resize2fs only ever run on an unused image.
    const { stdout } = await runTool('losetup', ['--associated', imagePath]);
    if (stdout.trim() !== '') throw busyError();
    const file = await open(imagePath, 'r+');
    try {
      await file.truncate(sizeMiB * mebibyte);
    } finally {
      await file.close();
    }
    await checkFilesystem(imagePath);
    await runTool('resize2fs', [imagePath]);
  } finally {
    await lock.release();
  }
}

/**
 * `e2fsck -f -p`: exit 0 is clean and 1 is "errors corrected" (a journal replayed after an
 * unclean unmount, a group's free count fixed), both fine to resize; 2 and up (a reboot wanted,
 * errors left, a failure of e2fsck itself) are not (e2fsck(8), "EXIT CODE").
 */
async function checkFilesystem(imagePath: string) {
  try {
    await runTool('e2fsck', ['-f', '-p', imagePath]);
  } catch (error) {
    const status = (error as { cause?: { code?: unknown } }).cause?.code;
    if (status === 1) return;
    throw new MagsError(
      `e2fsck found errors it could not repair in ${imagePath} (exit ${String(status)}), so the disk was not grown: ${(error as Error).message}`,
      {
        code: 'workspace_disk_failed',
        cause: error,
        hint: `Repair it by hand with: e2fsck -f ${imagePath}  (the workspace's files are on it), then run again.`,
      },
    );
  }
}

/** Use, size and free space, from the mounted filesystem (what `df` shows), in one statfs. */
export async function diskUsage(mountPoint: string): Promise<DiskUsage> {
  const stats = await statfs(mountPoint);
  return {
    usedBytes: (stats.blocks - stats.bfree) * stats.bsize,
    sizeBytes: stats.blocks * stats.bsize,
    freeBytes: stats.bavail * stats.bsize,
  };
}

/**
 * What a disk that is not mounted holds, without mounting it: the blocks the sparse image has on
 * the host. An upper bound of the filesystem's own figure (the journal and inode tables written
 * so far count too, a few MiB on a new disk); `discard` keeps it close after files are deleted.
 */
export async function allocatedBytes(imagePath: string): Promise<number> {
  return (await stat(imagePath)).blocks * 512;
}

/** Whether a disk is (nearly) full: less free than one MiB or half a percent, whichever is more. */
export function isFull(usage: DiskUsage): boolean {
  return usage.freeBytes < Math.max(mebibyte, usage.sizeBytes / 200);
}

export function diskTooSmallError(workspace: string, currentMiB: number, wantedMiB: number) {
  return new InvalidInputError(
    `Workspace ${JSON.stringify(workspace)} has a ${formatMiB(currentMiB)} disk; --disk ${formatMiB(wantedMiB)} would shrink it, and disks only grow.`,
    {
      workspace,
      code: 'disk_shrink_refused',
      hint: `Run with --disk ${formatMiB(currentMiB)} or more (or without --disk), or make a new workspace with the smaller disk and copy what you need into it.`,
    },
  );
}

/** The programs workspace disks use that this host lacks (none on a host set up by setup.sh). */
export function missingDiskTools(): string[] {
  const directories = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .concat(['/usr/sbin', '/sbin']);
  const tools = [
    'mkfs.ext4',
    'e2fsck',
    'resize2fs',
    'mount',
    'umount',
    'mountpoint',
    'findmnt',
    'flock',
    'losetup',
  ];
  return tools.filter(
    (tool) => !directories.some((directory) => existsSync(join(directory, tool))),
  );
}

async function runTool(command: string, args: string[]) {
  try {
    return await execFileAsync(command, args);
  } catch (error) {
    const failure = error as { code?: unknown; stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new DependencyMissingError(`${command} is not installed: workspace disks need it.`, {
        hint: 'apt-get install e2fsprogs util-linux (or run scripts/setup.sh)',
      });
    }
    throw new MagsError(`${command} failed: ${(failure.stderr ?? String(error)).trim()}`, {
      code: 'workspace_disk_failed',
      cause: error,
    });
  }
}
