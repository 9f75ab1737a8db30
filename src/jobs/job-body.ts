import { Writable } from 'node:stream';
import type { LogChunk } from '../state/state-repository.ts';
import type { SyncProgress } from '../workspaces/sync/push-workspace.ts';
import type { JobLog } from './job-log.ts';
import type { Outcome } from './job-outcome.ts';

/**
 * What a running job tells those following it besides its output: its sandbox is up (its id is
 * on the job from then on), and how the sync of a persistent workspace is getting on.
 */
export type JobEvent =
  | { type: 'started'; sandboxId: string }
  | { type: 'progress'; progress: SyncProgress };

/** What a job does: runs its command, following `signal` (a stop), telling of its events. */
export type JobBody = (
  log: JobLog,
  signal: AbortSignal,
  announce: (event: JobEvent) => void,
) => Promise<Outcome>;

/** A stream whose writes go into one stream of the job's log. */
export function logWriter(log: JobLog, stream: LogChunk['stream']): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      log.append(stream, chunk);
      callback();
    },
  });
}
