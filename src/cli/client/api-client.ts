import type { Command } from 'commander';
import { resolveMagsHome } from '../../config/mags-home.ts';
import type { Mags } from '../../sdk/mags.ts';
import { readCliConfig } from './cli-config.ts';
import { ensureLocalServer, findLocalServer } from './local-server.ts';

/** The server the user chose: --url, then MAGS_URL, then what mags login saved. */
export async function remoteServer(
  url: string | undefined,
  environment: NodeJS.ProcessEnv = process.env,
): Promise<{ url: string; token: string | undefined } | undefined> {
  const config = await readCliConfig();
  const chosen = url ?? environment.MAGS_URL ?? config.url;
  if (!chosen) return undefined;
  return { url: chosen, token: environment.MAGS_API_TOKEN ?? config.token };
}

/**
 * An SDK client for a command that needs a server: the chosen remote one, or else this host's
 * local server (started on demand unless `start` is false, e.g. for `mags list`).
 */
export async function apiClient(
  url: string | undefined,
  options: { start?: boolean } = {},
): Promise<Mags | undefined> {
  const { Mags } = await import('../../sdk/mags.ts');
  const remote = await remoteServer(url);
  if (remote) return new Mags(remote);
  const home = resolveMagsHome();
  const local =
    options.start === false ? await findLocalServer(home) : await ensureLocalServer(home);
  return local && new Mags(local);
}

/** A client for the remote server the user chose, or undefined to work on this host in-process. */
export async function remoteClient(command: Command): Promise<Mags | undefined> {
  const remote = await remoteServer((command.optsWithGlobals() as { url?: string }).url);
  if (!remote) return undefined;
  const { Mags } = await import('../../sdk/mags.ts');
  return new Mags(remote);
}
