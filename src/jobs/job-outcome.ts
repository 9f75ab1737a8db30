import type { EndReason } from '../api/end-reason.ts';
import type { JobStatus } from '../state/state-repository.ts';
import { describeSync } from '../workspaces/sync/describe-sync.ts';
import type { RunResult } from './run-command.ts';

/** How a job ended, as stored on its record and shown to its owner. */
export interface Outcome {
  status: JobStatus;
  exitCode: number | null;
  signal: string | null;
  endReason: EndReason;
  /** The short state line on the job record ("timed out", "exited with code 3"): the API's `reason`. */
  reason: string | null;
  /** What to tell a person, one line each (hints, disk full, the sync summary); null: nothing. */
  message: string | null;
}

export interface OutcomeFacts
  extends Pick<RunResult, 'exitCode' | 'signal' | 'timedOut' | 'cancelled' | 'oomKilled'> {
  diskFull?: string;
  sync?: RunResult['sync'];
  /** The limits the messages name. */
  timeoutMs: number;
  memoryMiB?: number;
  /** The workspace as its owner knows it, for the sync summary. */
  workspace?: string;
}

export function outcome(result: OutcomeFacts): Outcome {
  const base = { exitCode: result.exitCode, signal: result.signal };
  const notes = (first: string | undefined) => {
    const lines = [first, result.diskFull];
    if (result.sync) lines.push(describeSync(result.workspace ?? '', result.sync));
    const kept = lines.filter((line): line is string => line !== undefined);
    return kept.length > 0 ? kept.join('\n') : null;
  };
  if (result.cancelled) {
    return {
      ...base,
      status: 'stopped',
      endReason: 'stopped',
      reason: 'stopped on request',
      message: notes('stopped on request'),
    };
  }
  if (result.timedOut) {
    return {
      ...base,
      status: 'failed',
      endReason: 'timed_out',
      reason: 'timed out',
      message: notes(`timed out after ${result.timeoutMs / 1000} s (raise it with --timeout)`),
    };
  }
  if (result.oomKilled) {
    const limit = result.memoryMiB === undefined ? '' : ` at the ${result.memoryMiB} MiB limit`;
    return {
      ...base,
      status: 'failed',
      endReason: 'oom_killed',
      reason: 'out of memory: a process hit the memory limit',
      message: notes(`out of memory: a process was killed${limit} (raise it with --memory)`),
    };
  }
  // The command ended by itself: with a code, or killed by a signal mags did not send.
  const endReason: EndReason = 'exited';
  if (result.exitCode === 0) {
    return { ...base, status: 'succeeded', endReason, reason: null, message: notes(undefined) };
  }
  if (result.diskFull) {
    return {
      ...base,
      status: 'failed',
      endReason,
      reason: result.diskFull,
      message: notes(undefined),
    };
  }
  return {
    ...base,
    status: 'failed',
    endReason,
    reason:
      result.exitCode === null
        ? `killed by ${result.signal ?? 'a signal'}`
        : `exited with code ${result.exitCode}`,
    message: notes(undefined),
  };
}

/** Why a stopped job stopped: its owner asked, or the server shut down. */
export function stopReason(abort: AbortController): string {
  return abort.signal.reason === 'shutdown' ? 'the server shut down' : 'stopped on request';
}

/** A job that failed before or outside its command (it could not start, the server stopped). */
export function failedOutcome(message: string, exitCode: number | null = null): Outcome {
  return {
    status: 'failed',
    exitCode,
    signal: null,
    endReason: 'failed',
    reason: message,
    message,
  };
}
