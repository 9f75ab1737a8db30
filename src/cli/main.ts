import { createProgram } from './create-program.ts';
import { reportError } from './report-error.ts';

export async function main(argv: string[]): Promise<void> {
  try {
    await createProgram(argv).parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error);
  }
}
