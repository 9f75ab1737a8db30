import { constants } from 'node:os';
import type { Job, JobResult } from '../../api/schemas.ts';

/**
 * The shell's convention, from the end reason alone: 124 for a timeout, the command's code, or
 * 128+signal when a signal ended it; 1 when nothing better is known.
 */
export function jobExitCode(result: Pick<JobResult, 'endReason' | 'exitCode' | 'signal'>): number {
  if (result.endReason === 'timed_out') return 124;
  if (result.exitCode !== null) return result.exitCode;
  const signal = result.signal && constants.signals[result.signal as NodeJS.Signals];
  return signal ? 128 + signal : 1;
}

/**
 * What to tell the user about how a job ended, beyond its output and exit code, one line each;
 * empty when nothing. A failure the job's own output already reported (`stderrTail` ends with
 * it) is not said twice.
 */
export function jobEndNotes(job: Pick<Job, 'message' | 'endReason'>, stderrTail = ''): string[] {
  if (job.message === null) return [];
  if (job.endReason === 'failed' && stderrTail.includes(`mags: ${job.message}`)) return [];
  return job.message.split('\n');
}

/**
 * Copies output to this process's stdout/stderr byte for byte, keeping the end of stderr for
 * `jobEndNotes`.
 */
export function outputWriter(): {
  write: (stream: 'stdout' | 'stderr', data: Uint8Array) => void;
  stderrTail: () => string;
} {
  let tail = '';
  return {
    write(stream, data) {
      if (stream === 'stdout') {
        process.stdout.write(data);
        return;
      }
      process.stderr.write(data);
      tail = (tail + Buffer.from(data).toString('utf8')).slice(-4096);
    },
    stderrTail: () => tail,
  };
}
