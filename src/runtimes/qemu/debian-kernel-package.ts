import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, chown, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { DependencyMissingError, MagsError } from '../../errors/mags-error.ts';

const execFileAsync = promisify(execFile);

/** The metapackage whose dependency is the current standard kernel (6.1 on bookworm). */
const metapackage = 'linux-image-amd64';

export interface UnpackedKernelPackage {
  packageName: string;
  packageVersion: string;
  /** The kernel release (`uname -r` inside the guest), e.g. `6.1.0-57-amd64`. */
  release: string;
  /** The compressed kernel, `boot/vmlinuz-RELEASE`. */
  vmlinuzPath: string;
  /** `lib/modules/RELEASE/kernel`: the modules, uncompressed `.ko` files. */
  modulesDirectory: string;
}

/** Where the guest kernel is expected when it cannot come from apt, for the error hints. */
export function kernelHelpHint(qemuDirectory: string): string {
  return `the qemu runtime's guest kernel comes from Debian's ${metapackage} (apt-get download, dpkg-deb, xz): on another distribution, put a vmlinux (an uncompressed ELF kernel) with the 9p and virtio modules at ${join(qemuDirectory, 'kernel-RELEASE')}/ as that build lays it out (vmlinux, modules/*.ko, kernel.json)`;
}

/**
 * Downloads Debian's standard kernel package with apt (the one `linux-image-amd64` depends on,
 * or `MAGS_QEMU_KERNEL_PACKAGE`) into `scratch` and unpacks it there; the .deb (~70 MB) is
 * deleted once unpacked. Not the cloud kernel: it has no 9p, which the guest's root needs.
 */
export async function downloadKernelPackage(options: {
  scratch: string;
  qemuDirectory: string;
  environment: NodeJS.ProcessEnv;
}): Promise<UnpackedKernelPackage> {
  const hint = kernelHelpHint(options.qemuDirectory);
  if (!existsSync('/etc/debian_version')) {
    throw new DependencyMissingError('This host is not Debian or Ubuntu (no apt).', { hint });
  }
  for (const tool of ['apt-get', 'apt-cache', 'dpkg-deb']) {
    if (!findOnPath(tool)) {
      throw new DependencyMissingError(`${tool} is not installed.`, { hint });
    }
  }
  if (process.getuid?.() !== 0) {
    throw new DependencyMissingError('Building the guest kernel needs root.', {
      hint: 'Run it as root: npx mags image build --runtime qemu in a root shell, or with sudo',
    });
  }
  const packageName =
    options.environment.MAGS_QEMU_KERNEL_PACKAGE || (await currentKernelPackage(hint));
  // apt downloads as the unprivileged _apt user (its sandbox), which must reach and own the
  // download directory, or apt warns and downloads unsandboxed as root. The scratch directory is
  // root's: 0711 lets _apt through to `download` but not list or write anything else.
  await chmod(options.scratch, 0o711);
  const downloads = join(options.scratch, 'download');
  await mkdir(downloads, { mode: 0o700 });
  const apt = await aptUser();
  if (apt) await chown(downloads, apt.uid, apt.gid);
  await run('apt-get', ['download', '-q', packageName], {
    cwd: downloads,
    what: `Downloading ${packageName} failed`,
    hint: 'Refresh the package lists (apt-get update) and check that the Debian mirror is reachable; MAGS_QEMU_KERNEL_PACKAGE names another kernel package.',
  });
  const deb = (await readdir(downloads)).find((name) => name.endsWith('.deb'));
  if (!deb)
    throw new MagsError(`apt-get download ${packageName} left no .deb file.`, {
      code: 'guest_kernel_download_failed',
    });
  // A root-owned copy in a root-only directory: what _apt wrote is out of its reach before it is
  // checked, and what is checked is what gets unpacked.
  const verified = join(options.scratch, 'verified');
  await mkdir(verified, { mode: 0o700 });
  const debPath = join(verified, deb);
  await copyRegularFile(join(downloads, deb), debPath);
  await rm(downloads, { recursive: true, force: true });
  await verifyPackageHash(packageName, debPath);
  const packageVersion = (
    await run('dpkg-deb', ['-f', debPath, 'Version'], { what: `Reading ${deb} failed` })
  ).trim();
  const unpacked = join(options.scratch, 'unpacked');
  await run('dpkg-deb', ['-x', debPath, unpacked], { what: `Unpacking ${deb} failed` });
  await rm(debPath, { force: true });

  // Debian 12 ships /lib/modules; merged-/usr releases ship /usr/lib/modules.
  const modulesRoot = ['lib/modules', 'usr/lib/modules']
    .map((path) => join(unpacked, path))
    .find((path) => existsSync(path));
  const releases = modulesRoot ? await readdir(modulesRoot) : [];
  const release = releases[0];
  if (!modulesRoot || !release || releases.length !== 1) {
    throw new MagsError(
      `${packageName} does not hold one kernel's modules (lib/modules/RELEASE).`,
      {
        code: 'guest_kernel_invalid',
        hint,
      },
    );
  }
  const vmlinuzPath = join(unpacked, 'boot', `vmlinuz-${release}`);
  if (!existsSync(vmlinuzPath)) {
    throw new MagsError(`${packageName} holds no boot/vmlinuz-${release}.`, {
      code: 'guest_kernel_invalid',
      hint,
    });
  }
  return {
    packageName,
    packageVersion,
    release,
    vmlinuzPath,
    modulesDirectory: join(modulesRoot, release, 'kernel'),
  };
}

/**
 * Checks the downloaded package against the SHA256 in this host's apt lists (`apt-cache show`
 * of the candidate version, the one `apt-get download` fetches); the lists are signed, so a
 * match ties the file to the Debian archive's signature.
 */
export async function verifyPackageHash(packageName: string, debPath: string): Promise<void> {
  const record = await run('apt-cache', ['show', '--no-all-versions', packageName], {
    what: `apt-cache show ${packageName} failed`,
  });
  const expected = /^SHA256:\s*([0-9a-f]{64})$/m.exec(record)?.[1];
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(debPath)) hash.update(chunk);
  const actual = hash.digest('hex');
  if (expected !== actual) {
    throw new MagsError(
      expected
        ? `The downloaded ${packageName} does not match apt's lists: SHA256 ${actual}, expected ${expected}.`
        : `apt-cache show ${packageName} gives no SHA256 to check the download against.`,
      {
        code: 'guest_kernel_download_failed',
        hint: 'Refresh the package lists (apt-get update) and build again; if it persists, the mirror or a proxy is serving another file.',
      },
    );
  }
}

/** Copies `source` (refusing a symlink or anything but a regular file: _apt named it) to a new root-only file. */
async function copyRegularFile(source: string, target: string): Promise<void> {
  const handle = await open(source, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!(await handle.stat()).isFile()) {
      throw new MagsError(`The downloaded ${source} is not a regular file.`, {
        code: 'guest_kernel_download_failed',
      });
    }
    await pipeline(
      handle.createReadStream({ autoClose: false }),
      createWriteStream(target, { flags: 'wx', mode: 0o600 }),
    );
  } finally {
    await handle.close();
  }
}

/** The `_apt` user apt drops to for downloads, when this host has one. */
async function aptUser(): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const fields = passwd
    .split('\n')
    .find((line) => line.startsWith('_apt:'))
    ?.split(':');
  const uid = Number(fields?.[2]);
  const gid = Number(fields?.[3]);
  return Number.isInteger(uid) && Number.isInteger(gid) && fields ? { uid, gid } : undefined;
}

/** `linux-image-6.1.0-57-amd64`: what the metapackage depends on in this host's apt lists. */
async function currentKernelPackage(hint: string): Promise<string> {
  const output = await run('apt-cache', ['depends', metapackage], {
    what: `apt-cache depends ${metapackage} failed`,
    hint: `Refresh the package lists: apt-get update. Or ${hint}`,
  });
  const match = /^\s*Depends:\s*(linux-image-\S+)/m.exec(output);
  if (!match?.[1]) {
    throw new DependencyMissingError(`apt knows no ${metapackage} package on this host.`, {
      hint: `Refresh the package lists (apt-get update), or set MAGS_QEMU_KERNEL_PACKAGE; ${hint}`,
    });
  }
  return match[1];
}

async function run(
  command: string,
  args: string[],
  options: { cwd?: string; what: string; hint?: string },
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, {
      cwd: options.cwd,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, LC_ALL: 'C' },
    });
    return stdout;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    const detail = (stderr || message).trim().split('\n').slice(-3).join(' ');
    throw new MagsError(`${options.what}: ${detail}`, {
      code: 'guest_kernel_build_failed',
      statusCode: 503,
      ...(options.hint ? { hint: options.hint } : {}),
      cause: error,
    });
  }
}

/** The path of `command` on PATH, or undefined. */
export function findOnPath(command: string, searchPath = process.env.PATH): string | undefined {
  for (const directory of (searchPath ?? '/usr/bin:/bin').split(':')) {
    if (directory && existsSync(join(directory, command))) return join(directory, command);
  }
  return undefined;
}
