import type {
  CreateCronBody,
  CronJob,
  CronRun,
  CronRunList,
  CronRunStatus,
  CronRunTrigger,
} from '../api/cron.ts';

export type { CreateCronBody, CronJob, CronRun, CronRunList, CronRunStatus, CronRunTrigger };

type Json = <T>(method: string, path: string, body?: unknown) => Promise<T>;

const cronPath = (name: string) => `/v1/cron/${encodeURIComponent(name)}`;

/**
 * `mags.cron`: commands run as ordinary jobs at the times of a cron schedule, by the server
 * (they fire only while it runs; times missed meanwhile follow the job's `catchUp`).
 */
export function cronClient(json: Json, send: (method: string, path: string) => Promise<unknown>) {
  return {
    /** Adds and arms it (an InvalidInputError for a bad schedule, time zone or name). */
    create: (body: CreateCronBody): Promise<CronJob> => json('POST', '/v1/cron', body),
    list: async (): Promise<CronJob[]> =>
      (await json<{ cronJobs: CronJob[] }>('GET', '/v1/cron')).cronJobs,
    get: (name: string): Promise<CronJob> => json('GET', cronPath(name)),
    /** Removes it and its history; its running job is left to finish unless `stop`. */
    remove: async (name: string, options: { stop?: boolean } = {}): Promise<void> => {
      await send('DELETE', `${cronPath(name)}${options.stop ? '?stop=true' : ''}`);
    },
    pause: (name: string): Promise<CronJob> => json('POST', `${cronPath(name)}/pause`),
    /** Resumes from now: what passed while paused is not run. */
    resume: (name: string): Promise<CronJob> => json('POST', `${cronPath(name)}/resume`),
    /** A run now, under the same overlap rule (its `status` says whether it started). */
    run: (name: string): Promise<CronRun> => json('POST', `${cronPath(name)}/run`),
    /** Its runs, newest first, each with its job's status and exit code. */
    runs: (name: string, page: { limit?: number; cursor?: string } = {}): Promise<CronRunList> => {
      const query = new URLSearchParams();
      if (page.limit !== undefined) query.set('limit', String(page.limit));
      if (page.cursor !== undefined) query.set('cursor', page.cursor);
      const text = query.toString();
      return json('GET', `${cronPath(name)}/runs${text ? `?${text}` : ''}`);
    },
  };
}
