import { MagsError } from '../errors/mags-error.ts';
import type { SandboxProcess } from '../runtimes/runtime.ts';
import { commandDeadline } from './command-deadline.ts';
import type { JobLog } from './job-log.ts';
import { failedOutcome, type Outcome, outcome } from './job-outcome.ts';
import { drained } from './run-ending.ts';

/** An exec job's limits: `remainingMs` is what is left of `timeoutMs` (less after a restart). */
export interface FollowExecOptions {
  timeoutMs: number;
  remainingMs: number;
  killGraceMs: number;
}

/**
 * Follows an exec job's command to its end, its output into the job's log. `timeoutMs` is its
 * limit (named in the message); `remainingMs` what is left of it (less for a command picked up
 * again after a restart).
 */
export async function followExec(
  command: SandboxProcess,
  log: JobLog,
  signal: AbortSignal,
  { timeoutMs, remainingMs, killGraceMs }: FollowExecOptions,
): Promise<Outcome> {
  command.stdout.on('data', (chunk: Buffer) => log.append('stdout', chunk));
  command.stderr.on('data', (chunk: Buffer) => log.append('stderr', chunk));
  const deadline = commandDeadline({
    timeoutMs: Math.max(0, remainingMs),
    killGraceMs,
    signal,
    terminate: () => command.signal('SIGTERM'),
    kill: () => command.signal('SIGKILL'),
  });
  try {
    const result = await command.exited;
    await Promise.all([drained(command.stdout), drained(command.stderr)]);
    return outcome({
      ...result,
      timedOut: deadline.timedOut,
      cancelled: deadline.stopped,
      oomKilled: false,
      timeoutMs,
    });
  } catch (error) {
    if (error instanceof MagsError && error.code === 'guest_exec_failed') {
      log.append('stderr', Buffer.from(`mags: ${error.message}\n`));
      return failedOutcome(error.message, 127);
    }
    throw error;
  } finally {
    deadline.clear();
  }
}
