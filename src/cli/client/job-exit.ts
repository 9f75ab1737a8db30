import { constants } from 'node:os';
import type { Job } from '../../server/schemas.ts';

/** The shell's convention, the same as a local run: the code, 128+signal, or 124 for a timeout. */
export function jobExitCode(job: Job): number {
  if (job.reason === 'timed out') return 124;
  if (job.exitCode !== null) return job.exitCode;
  const signal = job.signal && constants.signals[job.signal as NodeJS.Signals];
  return signal ? 128 + signal : 1;
}

/** What to tell the user about how a job ended, beyond its exit code; undefined when nothing. */
export function jobEndNote(job: Job): string | undefined {
  if (job.status === 'succeeded' || job.reason === null) return undefined;
  if (/^exited with code \d+$/.test(job.reason)) return undefined;
  return job.reason;
}

/** Copies output to this process's stdout/stderr byte for byte. */
export function writeOutput(stream: 'stdout' | 'stderr', data: Uint8Array): void {
  (stream === 'stdout' ? process.stdout : process.stderr).write(data);
}
