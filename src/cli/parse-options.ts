import { parseSizeMiB } from '../config/byte-sizes.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import type { ResourceLimits } from '../runtimes/runtime.ts';
import { parseDiskMiB } from '../workspaces/workspace-disk.ts';

export { parseDiskMiB };

/** Commander's accumulator for repeatable options (`--env A=1 --env B=2`). */
export const collect = (value: string, previous: string[]) => [...previous, value];

/** `--memory`, `--cpus`, `--pids`, `--disk` as given; what is not given stays undefined. */
export function parseLimitFlags(flags: {
  memory?: string;
  cpus?: string;
  pids?: string;
  disk?: string;
}): Partial<ResourceLimits> {
  return {
    diskMiB: flags.disk ? parseDiskMiB(flags.disk) : undefined,
    memoryMiB: flags.memory ? parseMemoryMiB(flags.memory) : undefined,
    cpus: flags.cpus ? parsePositiveNumber('--cpus', flags.cpus) : undefined,
    pidsMax: flags.pids ? parsePositiveNumber('--pids', flags.pids, { integer: true }) : undefined,
  };
}

/** `512`, `512m`, `2g`, `2GiB` → MiB. */
export function parseMemoryMiB(value: string, flag = '--memory'): number {
  return parseSizeMiB(value, flag, 16);
}

export function parsePositiveNumber(
  flag: string,
  value: string,
  options: { integer?: boolean } = {},
): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0 || (options.integer && !Number.isInteger(number))) {
    throw new InvalidInputError(
      `Invalid ${flag} ${JSON.stringify(value)}: expected a positive ${options.integer ? 'integer' : 'number'}.`,
    );
  }
  return number;
}

/** `--env K=V`, repeatable. */
export function parseEnvironment(entries: string[]): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const entry of entries) {
    const index = entry.indexOf('=');
    if (index <= 0) {
      throw new InvalidInputError(`Invalid --env ${JSON.stringify(entry)}.`, {
        hint: 'Use --env NAME=value.',
      });
    }
    environment[entry.slice(0, index)] = entry.slice(index + 1);
  }
  return environment;
}

/** One argument runs through the shell (`mags run 'a && b'`); several are an exact argv. */
export function commandArgv(words: string[]): string[] {
  // `mags exec dev -- ls -la`: the separator is for mags, not part of the command.
  if (words[0] === '--') words = words.slice(1);
  if (words.length === 1) return ['/bin/sh', '-c', words[0] as string];
  return words;
}
