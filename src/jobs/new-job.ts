import { randomBytes } from 'node:crypto';
import { NotFoundError } from '../errors/mags-error.ts';
import type { JobRecord } from '../state/state-repository.ts';

/** A new job's record, queued, with an id nobody can guess. */
export function newJob(
  owner: string,
  kind: JobRecord['kind'],
  argv: string[],
  workspace: string | null,
  sandbox: string | null,
): JobRecord {
  return {
    id: `job_${randomBytes(12).toString('base64url')}`,
    owner,
    kind,
    sandbox,
    argv,
    workspace,
    status: 'queued',
    exitCode: null,
    signal: null,
    reason: null,
    endReason: null,
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
