import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DependencyMissingError } from '../../errors/mags-error.ts';
import { httpFetch } from './http-fetch.ts';

/** Where a local server says how to reach it (mode 0600: it holds the local owner's token). */
export const localServerFile = (home: string) => join(home, 'local-server.json');

export interface LocalServerAddress {
  url: string;
  token: string;
  pid: number;
}

/**
 * Long-lived sandboxes need a long-lived process to hold them. Without MAGS_URL, the CLI starts
 * one on demand for this host (`mags server --local`: loopback, a free port, the `local` owner)
 * and finds it again through `$MAGS_HOME/local-server.json`.
 */
export async function ensureLocalServer(home: string): Promise<LocalServerAddress> {
  const running = await findLocalServer(home);
  if (running) return running;
  const log = join(home, 'server.log');
  const output = openSync(log, 'a', 0o600);
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] as string, 'server', '--local'],
    { detached: true, stdio: ['ignore', output, output], env: { ...process.env, MAGS_HOME: home } },
  );
  child.unref();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = await findLocalServer(home);
    if (started) return started;
    if (child.exitCode !== null) break;
  }
  throw new DependencyMissingError('The local mags server did not start.', {
    code: 'local_server_failed',
    hint: `Its log is ${log}; or start one yourself (mags server) and set MAGS_URL.`,
  });
}

/** The local server if one answers, else undefined (a stale file is removed). */
export async function findLocalServer(home: string): Promise<LocalServerAddress | undefined> {
  const text = await readFile(localServerFile(home), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let address: LocalServerAddress;
  try {
    address = JSON.parse(text) as LocalServerAddress;
    const response = await httpFetch(`${address.url}/health`, {
      signal: AbortSignal.timeout(2000),
    });
    await response.arrayBuffer();
    if (response.ok) return address;
  } catch {}
  await rm(localServerFile(home), { force: true });
  return undefined;
}
