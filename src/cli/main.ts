import { createProgram } from './create-program.ts';
import { reportError } from './report-error.ts';

export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnClosedStdout();
  try {
    await createProgram(argv).parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error);
  }
}

/**
 * `mags ticket list | head -1`: the reader is gone, so the next write to stdout fails with EPIPE
 * (an `error` event, a stack trace without a listener). As other tools, stop quietly: nobody reads
 * the rest. Once for the whole CLI, so no command's printing needs to think of it.
 */
function exitQuietlyOnClosedStdout(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}
