import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
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
      hint: 'Run it as root: sudo npx mags image build --runtime qemu',
    });
  }
  const packageName =
    options.environment.MAGS_QEMU_KERNEL_PACKAGE || (await currentKernelPackage(hint));
  const downloads = join(options.scratch, 'download');
  await mkdir(downloads, { recursive: true });
  // apt downloads as the unprivileged _apt user: it must be able to write here, or apt warns and
  // downloads unsandboxed as root.
  await chmod(downloads, 0o777);
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
  const debPath = join(downloads, deb);
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
