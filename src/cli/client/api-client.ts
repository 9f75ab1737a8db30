import type { Command } from 'commander';
import { resolveMagsHome } from '../../config/mags-home.ts';
import type { Mags } from '../../sdk/mags.ts';
import { readCliConfig } from './cli-config.ts';
import { httpFetch } from './http-fetch.ts';
import { ensureLocalServer, findLocalServer } from './local-server.ts';
import { localServerFetch } from './local-server-fetch.ts';

/** The server the user chose: --url, then MAGS_URL, then what mags login saved. */
async function remoteServer(
  command: Command,
  environment: NodeJS.ProcessEnv = process.env,
): Promise<{ url: string; token: string | undefined } | undefined> {
  const config = await readCliConfig();
  const chosen =
    (command.optsWithGlobals() as { url?: string }).url ?? environment.MAGS_URL ?? config.url;
  if (!chosen) return undefined;
  return { url: chosen, token: environment.MAGS_API_TOKEN ?? config.token };
}

/**
 * A client for the remote server the user chose, or undefined to work on this host in-process.
 * `fetch` is the CLI's own by default (quick to load); a long-lived command may want the standard one.
 */
export async function remoteClient(
  command: Command,
  fetch: typeof globalThis.fetch = httpFetch,
): Promise<Mags | undefined> {
  const remote = await remoteServer(command);
  if (!remote) return undefined;
  const { Mags } = await import('../../sdk/mags.ts');
  return new Mags({ ...remote, fetch });
}

/**
 * The client `mags run` uses: the chosen remote server, else this host's local server when one
 * is already running (so runs share its pool and warm sandboxes), else none: run in-process.
 */
export async function runClient(command: Command): Promise<Mags | undefined> {
  const remote = await remoteClient(command);
  if (remote) return remote;
  const local = await findLocalServer(resolveMagsHome());
  if (!local) return undefined;
  const { Mags } = await import('../../sdk/mags.ts');
  return new Mags({ ...local, fetch: httpFetch });
}

/**
 * An SDK client for a command that needs a server: the chosen remote one, or else this host's
 * local server, started on demand, and found (or started) again when it has restarted since.
 */
export async function apiClient(
  command: Command,
  fetch: typeof globalThis.fetch = httpFetch,
): Promise<Mags> {
  const remote = await remoteClient(command, fetch);
  if (remote) return remote;
  const { Mags } = await import('../../sdk/mags.ts');
  const home = resolveMagsHome();
  const local = await ensureLocalServer(home);
  return new Mags({ ...local, fetch: localServerFetch(home, local, fetch) });
}
