import { existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { uniqueSuffix } from '../../config/unique-suffix.ts';
import { MagsError } from '../../errors/mags-error.ts';
import { downloadKernelPackage, kernelHelpHint } from './debian-kernel-package.ts';
import { extractVmlinux } from './extract-vmlinux.ts';
import { ensureInitramfs, guestModuleOrder } from './initramfs.ts';
import { acquireBuildLock } from './qemu-build-lock.ts';

export interface GuestKernel {
  release: string;
  vmlinuxPath: string;
  initramfsPath: string;
}

export interface GuestKernelProgress {
  step: string;
  detail?: string;
}

/** What `kernel-RELEASE/kernel.json` records. */
export interface BuiltKernelInfo {
  release: string;
  packageName: string;
  packageVersion: string;
  builtAt: string;
  modules: string[];
}

/**
 * The qemu runtime's files: `${home}/images/.qemu/` (a name the ImageStore skips: not a valid
 * image name), so test homes that link the images directory share one downloaded kernel.
 */
export function qemuDirectory(home: string): string {
  return join(home, 'images', '.qemu');
}

/**
 * Builds the guest kernel from Debian's kernel package, or reuses the cached one unless `force`,
 * and returns it with an initramfs for these binaries. Idempotent; a build happens in a temporary
 * directory renamed into place, one at a time (a second caller waits, then reuses the result).
 */
export async function buildGuestKernel(options: {
  home: string;
  force?: boolean;
  onProgress?: (progress: GuestKernelProgress) => void;
  initPath: string;
  agentPath: string;
}): Promise<GuestKernel> {
  const directory = qemuDirectory(options.home);
  const progress = options.onProgress ?? (() => {});
  await mkdir(directory, { recursive: true, mode: 0o755 });
  const startedAt = new Date();
  const releaseLock = await acquireBuildLock(join(directory, '.build.lock'), () =>
    progress({ step: 'waiting for another build of the guest kernel' }),
  );
  try {
    const existing = await readBuiltKernel(options.home);
    // A forced build that waited for another one reuses what that one just built.
    const builtMeanwhile = existing && new Date(existing.builtAt) >= startedAt;
    if (existing && (!options.force || builtMeanwhile)) {
      return await withInitramfs(options, existing, progress);
    }
    // What a crashed build left (the lock is ours, so no build is running).
    for (const name of await readdir(directory)) {
      if (/^\.(scratch|building|deleted)-/.test(name)) {
        await rm(join(directory, name), { recursive: true, force: true });
      }
    }
    const built = await downloadAndUnpack(directory, progress);
    return await withInitramfs(options, built, progress);
  } finally {
    await releaseLock();
  }
}

/**
 * The cached guest kernel (no download), with an initramfs for these binaries (built when they
 * changed); undefined when no kernel was ever built.
 */
export async function findGuestKernel(options: {
  home: string;
  initPath: string;
  agentPath: string;
}): Promise<GuestKernel | undefined> {
  const built = await readBuiltKernel(options.home);
  return built ? withInitramfs(options, built, () => {}) : undefined;
}

/** The newest built kernel's record, reading only (`mags doctor`); undefined when none. */
export async function readBuiltKernel(home: string): Promise<BuiltKernelInfo | undefined> {
  const directory = qemuDirectory(home);
  const found: BuiltKernelInfo[] = [];
  for (const name of await readdir(directory).catch(() => [] as string[])) {
    if (!name.startsWith('kernel-')) continue;
    const text = await readFile(join(directory, name, 'kernel.json'), 'utf8').catch(() => '');
    if (!text || !existsSync(join(directory, name, 'vmlinux'))) continue;
    try {
      found.push(JSON.parse(text) as BuiltKernelInfo);
    } catch {}
  }
  return found.sort((a, b) => b.builtAt.localeCompare(a.builtAt))[0];
}

async function withInitramfs(
  options: { home: string; initPath: string; agentPath: string },
  kernel: BuiltKernelInfo,
  progress: (progress: GuestKernelProgress) => void,
): Promise<GuestKernel> {
  const directory = qemuDirectory(options.home);
  const kernelDirectory = join(directory, `kernel-${kernel.release}`);
  progress({ step: 'initramfs', detail: 'guest init, agent and modules' });
  const initramfsPath = await ensureInitramfs({
    qemuDirectory: directory,
    modulesDirectory: join(kernelDirectory, 'modules'),
    initPath: options.initPath,
    agentPath: options.agentPath,
  });
  return {
    release: kernel.release,
    vmlinuxPath: join(kernelDirectory, 'vmlinux'),
    initramfsPath,
  };
}

async function downloadAndUnpack(
  directory: string,
  progress: (progress: GuestKernelProgress) => void,
): Promise<BuiltKernelInfo> {
  const scratch = await mkdtemp(join(directory, '.scratch-'));
  const staging = join(directory, `.building-${uniqueSuffix()}`);
  try {
    progress({ step: 'downloading the kernel package', detail: 'apt-get download, ~70 MB' });
    const unpacked = await downloadKernelPackage({
      scratch,
      qemuDirectory: directory,
      environment: process.env,
    });
    progress({
      step: 'extracting vmlinux',
      detail: `${unpacked.packageName} ${unpacked.packageVersion}`,
    });
    const vmlinux = await extractVmlinux(await readFile(unpacked.vmlinuzPath));
    await mkdir(join(staging, 'modules'), { recursive: true });
    await writeFile(join(staging, 'vmlinux'), vmlinux);
    progress({ step: 'copying modules', detail: `${guestModuleOrder.length} modules` });
    const found = await findModules(unpacked.modulesDirectory);
    for (const name of guestModuleOrder) {
      const source = found.get(`${name}.ko`);
      if (!source) {
        throw new MagsError(
          `${unpacked.packageName} has no ${name}.ko (uncompressed) under lib/modules/${unpacked.release}.`,
          { code: 'guest_kernel_invalid', hint: kernelHelpHint(directory) },
        );
      }
      await copyFile(source, join(staging, 'modules', `${name}.ko`));
    }
    const info: BuiltKernelInfo = {
      release: unpacked.release,
      packageName: unpacked.packageName,
      packageVersion: unpacked.packageVersion,
      builtAt: new Date().toISOString(),
      modules: [...guestModuleOrder],
    };
    await writeFile(join(staging, 'kernel.json'), `${JSON.stringify(info, null, 2)}\n`);
    // QEMU runs as the sandbox's unprivileged host uid and must read the kernel.
    await chmod(staging, 0o755);
    const target = join(directory, `kernel-${info.release}`);
    const old = join(directory, `.deleted-${uniqueSuffix()}`);
    if (existsSync(target)) await rename(target, old);
    await rename(staging, target);
    // Older releases go: the newest record wins in readBuiltKernel anyway.
    for (const name of await readdir(directory)) {
      if (name.startsWith('kernel-') && name !== `kernel-${info.release}`) {
        await rm(join(directory, name), { recursive: true, force: true });
      }
    }
    await rm(old, { recursive: true, force: true });
    return info;
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await rm(staging, { recursive: true, force: true });
  }
}

/** Every `.ko` under the package's module tree, by file name. */
async function findModules(root: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (entry.isFile() && entry.name.endsWith('.ko')) {
      found.set(entry.name, join(entry.parentPath, entry.name));
    }
  }
  return found;
}
