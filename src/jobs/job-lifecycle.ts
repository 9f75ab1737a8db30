import type { MagsContext } from '../context/mags-context.ts';
import type { Sandbox } from '../runtimes/runtime.ts';
import type { JobRecord } from '../state/state-repository.ts';
import type { Ticket } from './fair-queue.ts';
import type { JobBody, JobEvent } from './job-body.ts';
import type { JobLog } from './job-log.ts';
import { failedOutcome, type Outcome, stopReason } from './job-outcome.ts';
import { ownerFacingError, serverLocations } from './owner-facing-error.ts';

/** A job this process runs (queued or running), as the job manager tracks it. */
export interface LiveJob {
  record: JobRecord;
  log: JobLog;
  abort: AbortController;
  done: Promise<JobRecord>;
  /** Its command has ended; its output and final state are being stored. */
  finishing: boolean;
  watchers: Set<(event: JobEvent) => void>;
  /** A run job's sandbox, once it is up (`kill` ends it at once). */
  sandbox?: Sandbox;
}

export interface JobRun {
  live: LiveJob;
  ticket: Ticket;
  body: JobBody;
  context: MagsContext;
  /** Records it as running (not for an adopted job, which a gone server started). */
  markRunning?: () => Promise<void>;
  announce(event: JobEvent): void;
  /** The server is letting go of its jobs (a detaching shutdown). */
  detached(): boolean;
  /** After the body, whatever happened (the job's uploads go). */
  finally?: () => Promise<unknown> | undefined;
}

/**
 * Runs a job's body once its ticket is granted, and says how it ended: stopped while queued,
 * the body's outcome, or its failure in its owner's words. Undefined when the server let go of
 * it meanwhile (a detaching shutdown): its command runs on, and the next server finishes it.
 */
export async function runJob(run: JobRun): Promise<Outcome | undefined> {
  const { live, ticket, context } = run;
  const { record, log, abort } = live;
  try {
    // A job stopped while queued leaves the queue at once instead of waiting for a slot.
    await grantedOrAborted(ticket, abort.signal);
    if (abort.signal.aborted) return stoppedOutcome(stopReason(abort));
    await run.markRunning?.();
    const result = await run.body(log, abort.signal, run.announce);
    if (result.status === 'stopped') {
      const reason = stopReason(abort);
      result.message = result.message?.replace(result.reason ?? '', reason) ?? reason;
      result.reason = reason;
    }
    return result;
  } catch (error) {
    if (run.detached()) return undefined;
    // The job's log and reason are read by its owner: in their words, without host details.
    const facing = ownerFacingError(error, record.owner, serverLocations(context));
    if (facing.withheld) console.error(`[job ${record.id}] owner ${record.owner}:`, error);
    const hint = facing.hint ? `\n  hint: ${facing.hint}` : '';
    log.append('stderr', Buffer.from(`mags: ${facing.message}${hint}\n`));
    // Its output already says so (above): clients that print the message skip a failure's.
    return failedOutcome(facing.message);
  } finally {
    ticket.release();
    await run.finally?.()?.catch(() => {});
  }
}

function stoppedOutcome(reason: string): Outcome {
  return {
    status: 'stopped',
    exitCode: null,
    signal: null,
    endReason: 'stopped',
    reason,
    message: reason,
  };
}

function grantedOrAborted(ticket: Ticket, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([ticket.granted, aborted]).finally(() =>
    signal.removeEventListener('abort', onAbort),
  );
}
