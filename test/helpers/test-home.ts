import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveMagsHome } from '../../src/config/mags-home.ts';
import { nativeBinaryPath, packageRoot } from '../../src/config/package-paths.ts';
import { readProcessStartTicks } from '../../src/config/process-start-time.ts';
import { removeLeftoverCgroup } from '../../src/runtimes/namespace/sandbox-cgroup.ts';
import {
  sweepLeftovers,
  waitForProcessExit,
} from '../../src/runtimes/namespace/sweep-leftovers.ts';

/**
 * A throw-away MAGS_HOME for one test file that shares the developer's built images (building one
 * takes minutes) but nothing else: workspaces and run state start empty.
 */
export interface TestHome {
  home: string;
  cleanup: () => Promise<void>;
}

export async function createTestHome(): Promise<TestHome> {
  const home = await mkdtemp(join(tmpdir(), 'mags-test-'));
  // mkdtemp makes it 0700; the sandbox's host uid must walk through it to the layers.
  await chmod(home, 0o711);
  const images = join(resolveMagsHome(), 'images');
  if (existsSync(images)) await symlink(images, join(home, 'images'));
  else await mkdir(join(home, 'images'));
  return {
    home,
    cleanup: async () => {
      // Workspace disks stay mounted by design; removing files through a mount would empty the
      // disk and then fail on its mount point.
      await stopSandboxesUnder(home);
      await unmountUnder(home);
      await rm(home, { recursive: true, force: true });
    },
  };
}

/**
 * Sandboxes outlive the process that started them (a SIGKILLed test server leaves its sandboxes
 * running): end every launcher under the home, then sweep what they leave (frozen ones too).
 */
async function stopSandboxesUnder(home: string): Promise<void> {
  const runRoot = join(home, 'run');
  for (const id of await readdir(runRoot).catch(() => [] as string[])) {
    const owner = await readFile(join(runRoot, id, 'owner'), 'utf8').catch(() => '');
    const [pid, started] = owner.trim().split(' ');
    if (
      pid &&
      Number(pid) !== process.pid &&
      (await readProcessStartTicks(Number(pid))) === started
    ) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {}
      // A sleeping sandbox's launcher is frozen with it and cannot act even on SIGKILL: its
      // cgroup is thawed and emptied (which ends the launcher too).
      await removeLeftoverCgroup(id, '/sys/fs/cgroup');
      await waitForProcessExit(Number(pid), started ?? '', 2000);
    }
  }
  await sweepLeftovers(home, '/sys/fs/cgroup');
}

/** Unmounts every mount under `directory`, deepest first (workspace disks, the shared root). */
async function unmountUnder(directory: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    // mountinfo escapes space, tab, newline and backslash as octal (proc(5)).
    .map((point) =>
      point.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8))),
    )
    .filter((point) => point.startsWith(`${directory}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) {
    await new Promise<void>((resolve) => {
      spawn('umount', ['--lazy', point], { stdio: 'ignore' }).on('close', () => resolve());
    });
  }
}

/** Why sandbox tests cannot run on this machine, or undefined when they can. */
export function sandboxSkipReason(): string | undefined {
  if (process.getuid?.() !== 0)
    return 'sandbox tests need root (the namespace runtime maps subordinate ids)';
  for (const name of ['mags-sandbox', 'mags-agent'] as const) {
    if (!existsSync(nativeBinaryPath(name)))
      return `${nativeBinaryPath(name)} is not built: run npm run build`;
  }
  if (!existsSync(join(resolveMagsHome(), 'images', 'default', 'image.json'))) {
    return 'the default base image is not built: run npx mags image build';
  }
  return undefined;
}

export interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the real CLI (bin/mags.js) as a user would, with MAGS_HOME pointing at `home`. */
export function runCli(
  home: string,
  args: string[],
  options: { input?: string; env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'mags.js'), ...args], {
      env: { ...process.env, MAGS_HOME: home, ...options.env },
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr }));
    child.stdin.end(options.input ?? '');
  });
}
