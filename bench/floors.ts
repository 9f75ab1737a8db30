import { spawnSync } from 'node:child_process';
import { measure, type Summary } from './stats.ts';

/** Runs a command to completion; a failure stops the benchmark with the command's stderr. */
export function spawnOrThrow(command: string, args: string[], env?: NodeJS.ProcessEnv): void {
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
}

/**
 * The floors every latency row is a ratio of, measured in the same run: a raw namespace sandbox
 * (bwrap) for anything that starts a sandbox, `node -e 0` for anything that starts the CLI.
 */
export async function measureFloors(
  iterations: number,
): Promise<{ bwrap: Summary; node: Summary }> {
  const bwrap = await measureBwrapFloor(iterations);
  const node = await measure('node -e 0', iterations, () =>
    spawnOrThrow(process.execPath, ['-e', '0']),
  );
  return { bwrap, node };
}

/** A raw namespace sandbox started and ended by bubblewrap: the floor of any sandbox start. */
export function measureBwrapFloor(iterations: number): Promise<Summary> {
  return measure('bwrap --unshare-all --ro-bind / / true', iterations, () =>
    spawnOrThrow('bwrap', ['--unshare-all', '--ro-bind', '/', '/', 'true']),
  );
}
