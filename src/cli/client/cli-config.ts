import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidInputError } from '../../errors/mags-error.ts';

/** What `mags login` saves: the server and its token, for every later command. */
export interface CliConfig {
  url?: string;
  token?: string;
}

export function cliConfigPath(environment: NodeJS.ProcessEnv = process.env): string {
  const base = environment.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'mags', 'config.json');
}

export async function readCliConfig(path = cliConfigPath()): Promise<CliConfig> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as CliConfig;
  } catch {
    throw new InvalidInputError(`${path} is not valid JSON.`, {
      hint: 'Fix it, or delete it and log in again: mags login --url URL',
    });
  }
}

/** Written 0600 and renamed into place: the token is a secret and a half-written file is none. */
export async function writeCliConfig(config: CliConfig, path = cliConfigPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}
