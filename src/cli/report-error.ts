import { MagsError } from '../errors/mags-error.ts';

/** Prints an error the way a user should see it and returns the process exit code. */
export function reportError(error: unknown): number {
  if (error instanceof MagsError) {
    process.stderr.write(`mags: ${error.toDisplayString()}\n`);
    return error.code === 'invalid_input' ? 2 : 1;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`mags: unexpected error: ${message}\n`);
  return 1;
}
