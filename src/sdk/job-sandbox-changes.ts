import type { Job, JobList, SandboxInfo } from '../api/schemas.ts';
import { type FollowChangesOptions, followChanges } from './follow-changes.ts';
import type { LogRequest } from './log-stream.ts';
import { queryString } from './query-string.ts';

export interface JobChangesOptions extends FollowChangesOptions {
  status?: Job['status'];
  workspace?: string;
  sandbox?: string;
  /** The first page's size (default 50). */
  limit?: number;
}

/** What `jobs.follow` yields: the first page (first, and after a reconnection), or one job. */
export type JobChange =
  | { type: 'jobs'; jobs: Job[]; nextCursor: string | null }
  | { type: 'job'; job: Job };

/** What `sandboxes.follow` yields: the list, a sandbox's snapshot, or the name of one deleted. */
export type SandboxChange =
  | { type: 'sandboxes'; sandboxes: SandboxInfo[] }
  | { type: 'sandbox'; sandbox: SandboxInfo }
  | { type: 'deleted'; name: string };

/**
 * The owner's jobs followed live (`GET /v1/jobs?follow=true`): the newest page, then each job's
 * snapshot as it is created, starts or finishes, until `signal` aborts; reconnects after a
 * dropped connection (the page then comes again).
 */
export function followJobChanges(
  request: LogRequest,
  options: JobChangesOptions = {},
): AsyncGenerator<JobChange> {
  return followChanges<JobChange>(
    request,
    `/v1/jobs${queryString({ follow: true, status: options.status, workspace: options.workspace, sandbox: options.sandbox, limit: options.limit })}`,
    (event, data) => {
      if (event === 'jobs') return { type: 'jobs', ...(data as JobList) };
      if (event === 'job') return { type: 'job', job: data as Job };
      return undefined;
    },
    options,
  );
}

/**
 * The owner's sandboxes followed live (`GET /v1/sandboxes?follow=true`): the list, then each
 * sandbox's snapshot as it is created, started, stopped, put to sleep or woken, and a `deleted`
 * change once one is deleted, until `signal` aborts; reconnects like `followJobChanges`.
 */
export function followSandboxChanges(
  request: LogRequest,
  options: FollowChangesOptions = {},
): AsyncGenerator<SandboxChange> {
  return followChanges<SandboxChange>(
    request,
    '/v1/sandboxes?follow=true',
    (event, data) => {
      if (event === 'sandboxes') {
        return { type: 'sandboxes', sandboxes: (data as { sandboxes: SandboxInfo[] }).sandboxes };
      }
      if (event !== 'sandbox') return undefined;
      const deleted = data as { name: string; deleted?: boolean };
      if (deleted.deleted) return { type: 'deleted', name: deleted.name };
      return { type: 'sandbox', sandbox: data as SandboxInfo };
    },
    options,
  );
}
