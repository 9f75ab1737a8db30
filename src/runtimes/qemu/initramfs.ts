import { createHash } from 'node:crypto';
import { type BigIntStats, existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { uniqueSuffix } from '../../config/unique-suffix.ts';
import { DependencyMissingError } from '../../errors/mags-error.ts';
import { type CpioEntry, writeNewcCpio } from './write-cpio.ts';

/**
 * The guest kernel's modules the initramfs loads, in dependency order (the lead's measurement on
 * Debian's 6.1 kernel: virtio and 9p are modules there, not built in).
 */
export const guestModuleOrder = [
  'virtio_ring',
  'virtio',
  'virtio_mmio',
  'virtio_console',
  'netfs',
  'fscache',
  '9pnet',
  '9pnet_virtio',
  '9p',
  'failover',
  'net_failover',
  'virtio_net',
] as const;

// Bumped when the archive's layout changes, so a cached archive of the old layout is not reused.
const layoutVersion = 'mags-initramfs-1';
// A stale archive is removed only when nobody used it for this long: another checkout's init
// binary (tests share the images directory) may be about to boot from it.
const staleAfterMs = 60 * 60 * 1000;

/**
 * `${qemuDirectory}/initramfs-HASH.cpio.gz` for these binaries and modules, written when missing
 * (cheap: ~2 MB) and named by the hash of everything in it, so a rebuilt init or agent gets a new
 * archive and a running VM's archive is never rewritten. Layout: `/init` (the guest's init), `/dev/console`,
 * `/mags-agent`, `/modules/NAME.ko` and `/modules/order` (one name a line), and the empty
 * mount points `/dev /proc /sys /newroot`.
 */
export async function ensureInitramfs(options: {
  qemuDirectory: string;
  modulesDirectory: string;
  initPath: string;
  agentPath: string;
}): Promise<string> {
  for (const [what, path] of [
    ['guest init', options.initPath],
    ['guest agent', options.agentPath],
  ] as const) {
    if (!existsSync(path)) {
      throw new DependencyMissingError(`The ${what} ${path} is not built.`, {
        hint: 'Build the native programs: npm run build',
      });
    }
  }
  const modulePaths = guestModuleOrder.map((name) => join(options.modulesDirectory, `${name}.ko`));
  const inputsKey = await inputsIdentity([options.initPath, options.agentPath, ...modulePaths]);
  const known = digestsByInputs.get(inputsKey);
  if (known) {
    const target = join(options.qemuDirectory, `initramfs-${known}.cpio.gz`);
    if (await markInUse(target)) return target;
  }
  const init = await readFile(options.initPath);
  const agent = await readFile(options.agentPath);
  const modules: { name: string; data: Buffer }[] = [];
  for (const [index, name] of guestModuleOrder.entries()) {
    modules.push({ name, data: await readFile(modulePaths[index] as string) });
  }
  const hash = createHash('sha256').update(layoutVersion);
  for (const part of [init, agent]) hash.update(`${part.length}\0`).update(part);
  for (const module of modules) {
    hash.update(`${module.name}\0${module.data.length}\0`).update(module.data);
  }
  const digest = hash.digest('hex').slice(0, 16);
  if (digestsByInputs.size >= 64) digestsByInputs.clear();
  digestsByInputs.set(inputsKey, digest);
  const target = join(options.qemuDirectory, `initramfs-${digest}.cpio.gz`);
  if (await markInUse(target)) return target;
  const entries: CpioEntry[] = [
    ...['dev', 'proc', 'sys', 'newroot', 'modules'].map(
      (path): CpioEntry => ({ type: 'directory', path, mode: 0o755 }),
    ),
    // The kernel opens /dev/console as init's stdin, stdout and stderr before /init runs (the
    // kernel's own default initramfs has this node: usr/default_cpio_list).
    { type: 'character-device', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'file', path: 'init', mode: 0o755, data: init },
    { type: 'file', path: 'mags-agent', mode: 0o755, data: agent },
    ...modules.map(
      (module): CpioEntry => ({
        type: 'file',
        path: `modules/${module.name}.ko`,
        mode: 0o644,
        data: module.data,
      }),
    ),
    {
      type: 'file',
      path: 'modules/order',
      mode: 0o644,
      data: Buffer.from(`${guestModuleOrder.join('\n')}\n`),
    },
  ];
  const temporary = join(options.qemuDirectory, `.initramfs-${digest}-${uniqueSuffix()}`);
  await writeFile(temporary, gzipSync(writeNewcCpio(entries), { level: 6 }));
  await rename(temporary, target);
  await removeStaleArchives(options.qemuDirectory, target);
  return target;
}

/**
 * The archive's digest by its inputs' identity, per process: hashing the init, the agent and the
 * modules reads ~3 MB (measured here: 5-30 ms a start, 0.3 ms remembered), which every VM start
 * would otherwise pay for the same files.
 */
const digestsByInputs = new Map<string, string>();

/** Path, inode, size and mtime (ns) of each input: a rebuilt or replaced file changes one. */
async function inputsIdentity(paths: string[]): Promise<string> {
  const infos = await Promise.all(paths.map((path) => stat(path, { bigint: true })));
  return paths
    .map((path, index) => {
      const info = infos[index] as BigIntStats;
      return `${path}\0${info.ino}\0${info.size}\0${info.mtimeNs}`;
    })
    .join('\0');
}

/** True when the archive exists; its mtime is then renewed for the stale rule below. */
async function markInUse(target: string): Promise<boolean> {
  if (!existsSync(target)) return false;
  const now = new Date();
  await utimes(target, now, now).catch(() => {});
  return true;
}

async function removeStaleArchives(qemuDirectory: string, keep: string): Promise<void> {
  for (const name of await readdir(qemuDirectory).catch(() => [] as string[])) {
    const path = join(qemuDirectory, name);
    if (path === keep || !/^\.?initramfs-/.test(name)) continue;
    const info = await stat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > staleAfterMs) await rm(path, { force: true });
  }
}
