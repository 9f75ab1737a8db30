import type { JobStatus } from '../state/state-repository.ts';
import type { RunResult } from './run-command.ts';

/** How a job ended, as stored on its record and shown to its owner. */
export interface Outcome {
  status: JobStatus;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
}

export function outcome(
  result: Pick<RunResult, 'exitCode' | 'signal' | 'timedOut' | 'cancelled' | 'oomKilled'> & {
    diskFull?: string;
  },
): Outcome {
  const base = { exitCode: result.exitCode, signal: result.signal };
  if (result.cancelled) return { ...base, status: 'stopped', reason: 'stopped on request' };
  if (result.timedOut) return { ...base, status: 'failed', reason: 'timed out' };
  if (result.oomKilled)
    return { ...base, status: 'failed', reason: 'out of memory: a process hit the memory limit' };
  if (result.exitCode === 0) return { ...base, status: 'succeeded', reason: null };
  if (result.diskFull) return { ...base, status: 'failed', reason: result.diskFull };
  return {
    ...base,
    status: 'failed',
    reason:
      result.exitCode === null
        ? `killed by ${result.signal ?? 'a signal'}`
        : `exited with code ${result.exitCode}`,
  };
}

/** Why a stopped job stopped: its owner asked, or the server shut down. */
export function stopReason(abort: AbortController): string {
  return abort.signal.reason === 'shutdown' ? 'the server shut down' : 'stopped on request';
}
