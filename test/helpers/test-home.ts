import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveMagsHome } from '../../src/config/mags-home.ts';
import { nativeBinaryPath, packageRoot } from '../../src/config/package-paths.ts';

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
  return { home, cleanup: () => rm(home, { recursive: true, force: true }) };
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
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'mags.js'), ...args], {
      env: { ...process.env, MAGS_HOME: home, ...options.env },
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
