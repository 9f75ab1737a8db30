import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../src/config/package-paths.ts';

/** A server process of a cluster on one shared state (cluster-server-main.ts). */
export async function startClusterServerProcess(options: {
  home: string;
  /** A SQLite file or a postgres:// URL. */
  state: string;
  hostId: string;
  apiOnly?: boolean;
  /** `mags server --url-domain`. */
  urlDomain?: string;
}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [join(packageRoot(), 'test', 'helpers', 'cluster-server-main.ts')],
    {
      env: {
        ...process.env,
        MAGS_HOME: options.home,
        TEST_STATE: options.state,
        TEST_HOST_ID: options.hostId,
        TEST_API_ONLY: options.apiOnly ? '1' : '0',
        TEST_URL_DOMAIN: options.urlDomain ?? '',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(log);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', () => reject(new Error(`server ${options.hostId} exited: ${log}`)));
  });
  return { child, url };
}

/** Ends a server process (SIGKILL: as a crash; SIGTERM: its sandboxes stopped) and waits. */
export async function endServerProcess(
  child: ChildProcess,
  signal: 'SIGKILL' | 'SIGTERM',
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}
