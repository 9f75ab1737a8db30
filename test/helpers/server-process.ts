import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../../src/config/package-paths.ts';

/** A real `mags server` process on a free loopback port, as a user would start it. */
export async function startServerProcess(
  environment: NodeJS.ProcessEnv,
  flags: readonly string[] = [],
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [join(packageRoot(), 'bin', 'mags.js'), 'server', '--port', '0', ...flags],
    { env: environment, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(log);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', () => reject(new Error(`mags server exited: ${log}`)));
  });
  return { child, url };
}

/**
 * Stops a server started by `startServerProcess` and waits for it to exit (a no-op if it has).
 * SIGTERM leaves its jobs' and sandboxes' processes running for the next server (by design);
 * `stopSandboxes` (SIGUSR2) stops them too, which a test's last stop needs before its home goes.
 */
export async function stopServerProcess(
  child: ChildProcess | undefined,
  options: { stopSandboxes?: boolean } = {},
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(options.stopSandboxes ? 'SIGUSR2' : 'SIGTERM');
  await exited;
}

/** Processes whose command line mentions this home's run directory: launchers (and slirp). */
export function sandboxProcesses(home: string): Promise<string[]> {
  return processesMentioning(`${home}/run`);
}

/** Processes (other than this one) whose command line contains `text`, as `pid: command`. */
export async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (command.includes(text)) found.push(`${pid}: ${command.replaceAll('\0', ' ')}`);
  }
  return found;
}

/** Polls `check` until it holds; throws when `timeoutMs` passes first. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
