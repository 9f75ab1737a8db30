import { randomId } from '../config/random-id.ts';
import { NotFoundError } from '../errors/mags-error.ts';
import type { JobRecord } from '../state/state-repository.ts';

/** A new job's record, queued, with an id nobody can guess, on the runtime named. */
export function newJob(
  owner: string,
  kind: JobRecord['kind'],
  argv: string[],
  workspace: string | null,
  sandbox: string | null,
  runtime: string,
): JobRecord {
  return {
    id: randomId('job_'),
    owner,
    kind,
    runtime,
    sandbox,
    argv,
    workspace,
    status: 'queued',
    exitCode: null,
    signal: null,
    reason: null,
    endReason: null,
    sandboxId: null,
    message: null,
    createdAt: new Date().toISOString(),
    startedAt: null,
    finishedAt: null,
    logBytes: 0,
    logsRemovedAt: null,
    logsRemovedReason: null,
  };
}

export function jobNotFound(id: string): NotFoundError {
  return new NotFoundError(`No job ${JSON.stringify(id)}.`, {
    code: 'job_not_found',
    hint: 'mags list shows your jobs.',
  });
}
