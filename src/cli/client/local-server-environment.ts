import type { Command } from 'commander';
import { resolveMagsHome } from '../../config/mags-home.ts';
import { InvalidInputError, MagsError } from '../../errors/mags-error.ts';
import { remoteClient } from './api-client.ts';
import { findLocalServer } from './local-server.ts';

/** Errors about a variable of the server's environment (a model's key or base URL). */
const environmentCodes = new Set(['model_key_missing', 'model_base_url_missing']);

/**
 * This host's local server is started on demand by a mags command and keeps that command's
 * environment: a key exported in the shell afterwards never reaches it, and "set X in the
 * server's environment" does not say which server. For those errors, when the local server
 * answered, the hint says how to give it the variable (stop it: the next command starts one
 * with the shell's environment). Any other error, or a remote server's, is returned as it is.
 */
export async function withLocalServerEnvironmentHint(
  error: unknown,
  command: Command,
  environment: NodeJS.ProcessEnv = process.env,
): Promise<unknown> {
  if (!(error instanceof MagsError) || !environmentCodes.has(error.code)) return error;
  if (await remoteClient(command)) return error;
  const local = await findLocalServer(resolveMagsHome());
  if (!local) return error;
  const stop = `stop it (mags server stop) and run the command again: the next mags command starts one with this shell's environment`;
  // The error names the variable; one of that name set here is the one the server lacks.
  const setHere = Object.keys(environment).find(
    (name) =>
      /^[A-Z][A-Z0-9_]{3,}$/.test(name) &&
      environment[name] &&
      new RegExp(`\\b${name}\\b`).test(error.message),
  );
  const hint = setHere
    ? `${setHere} is set in this shell, but this host's local server (pid ${local.pid}) started before it was and keeps the environment it started with: ${stop}.`
    : `${error.hint ?? ''} This host's local server (pid ${local.pid}) keeps the environment of the command that started it: after setting the variable, ${stop}.`.trim();
  return new InvalidInputError(error.message, {
    code: error.code,
    hint,
    ...(error.statusCode !== undefined && { statusCode: error.statusCode }),
  });
}
