import type { Context } from 'hono';
import type { JobManager } from '../../jobs/job-manager.ts';
import type { JobFilter, JobRecord } from '../../state/state-repository.ts';
import { toJobView } from '../job-view.ts';
import { changeStreamResponse } from './change-stream.ts';

/**
 * `GET /v1/jobs?follow=true`: the owner's jobs as Server-Sent Events. First a `jobs` event with
 * the page as `GET /v1/jobs` answers it, then a `job` event with a job's snapshot each time one
 * the workspace and sandbox filters select is created, starts or finishes (also one that leaves
 * a `status` filter, so a client can move it). The manager hands over each record with its
 * owner: another owner's change costs no read. See change-stream.ts.
 */
export function jobChangesResponse(
  c: Context,
  jobs: JobManager,
  filter: JobFilter & { limit: number },
): Promise<Response> {
  const latest = new Map<string, JobRecord>();
  return changeStreamResponse(c, {
    listEvent: 'jobs',
    itemEvent: 'job',
    subscribe: (changed) =>
      jobs.onChange((record) => {
        if (record.owner !== filter.owner) return;
        if (filter.workspace !== undefined && record.workspace !== filter.workspace) return;
        if (filter.sandbox !== undefined && record.sandbox !== filter.sandbox) return;
        latest.set(record.id, record);
        changed(record.id);
      }),
    list: async () => {
      const page = await jobs.list(filter);
      return { jobs: page.jobs.map(toJobView), nextCursor: page.nextCursor };
    },
    snapshot: async (id) => {
      const record = latest.get(id);
      latest.delete(id);
      return record && toJobView(record);
    },
  });
}
