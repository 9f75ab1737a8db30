import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import {
  JobIdSchema,
  JobListQuerySchema,
  JobListSchema,
  JobSchema,
  LogQuerySchema,
  RunJobBodySchema,
} from '../../api/schemas.ts';
import type { ServerApp } from '../create-app.ts';
import { toJobView } from '../job-view.ts';
import type { ServerServices } from '../server-env.ts';
import { submitRunJob } from '../submit-run-job.ts';
import { errorResponses, rateLimitResponse } from './error-responses.ts';
import { jobChangesResponse } from './job-changes-stream.ts';

const errors = errorResponses();
const jobResponse = (description: string) => ({
  content: { 'application/json': { schema: JobSchema } },
  description,
});
const idParams = z.object({ id: JobIdSchema });

const createJob = createRoute({
  method: 'post',
  path: '/v1/jobs',
  summary: 'Run a command in a new sandbox (starts in the background)',
  request: {
    body: { content: { 'application/json': { schema: RunJobBodySchema } }, required: true },
  },
  responses: {
    201: jobResponse('The job, queued or running'),
    ...errorResponses('Workspace in use by another job; owner_disk_quota: over the disk quota'),
    ...rateLimitResponse,
  },
});

const listJobs = createRoute({
  method: 'get',
  path: '/v1/jobs',
  summary: 'List jobs, newest first; with `follow`, follow them as Server-Sent Events',
  description:
    'With `follow=true` the answer is text/event-stream: a `jobs` event carrying the page, then ' +
    'a `job` event carrying a Job each time one the workspace and sandbox filters select is ' +
    'created, starts or finishes (a dashboard follows the list on one stream).',
  request: { query: JobListQuerySchema },
  responses: {
    200: {
      content: {
        'application/json': { schema: JobListSchema },
        'text/event-stream': { schema: z.string() },
      },
      description: 'A page',
    },
    ...errors,
  },
});

const getJob = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}',
  summary: 'A job and its status',
  request: { params: idParams },
  responses: { 200: jobResponse('The job'), ...errors },
});

const stopJob = createRoute({
  method: 'post',
  path: '/v1/jobs/{id}/stop',
  summary: 'Stop a job: SIGTERM, then everything after 2 s; returns once it has ended',
  request: { params: idParams },
  responses: { 200: jobResponse('The stopped (or already finished) job'), ...errors },
});

const deleteJob = createRoute({
  method: 'delete',
  path: '/v1/jobs/{id}',
  summary: 'Delete a finished job: its record and its stored output',
  request: { params: idParams },
  responses: {
    204: { description: 'Deleted' },
    ...errorResponses('The job is queued or running: stop it first'),
  },
});

const jobLogs = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/logs',
  summary: 'Output as Server-Sent Events, from a byte offset; `follow` streams until the job ends',
  description:
    'Events `stdout` and `stderr` carry `{"offset":N,"text":"..."}` (or `"base64"` for bytes ' +
    'that are not UTF-8); their `id` is the offset after the chunk, so a client resumes with ' +
    '`?offset=` or `Last-Event-ID`. A run sends `started` `{"sandboxId":"..."}` when its sandbox ' +
    'is up (at once when it already is), and `progress` (files and bytes) while it syncs or ' +
    'restores a persistent workspace. A final `end` event carries the job.',
  request: { params: idParams, query: LogQuerySchema },
  responses: { 200: { description: 'text/event-stream' }, ...errors },
});

export function registerJobRoutes(app: ServerApp, { jobs, context, disks }: ServerServices): void {
  app.openapi(createJob, async (c) => {
    const job = await submitRunJob({ jobs, context, disks }, c.var.owner, c.req.valid('json'));
    return c.json(toJobView(job), 201);
  });

  app.openapi(listJobs, async (c) => {
    const { follow, ...query } = c.req.valid('query');
    if (follow === 'true') {
      return jobChangesResponse(c, jobs, { owner: c.var.owner, ...query });
    }
    const page = await jobs.list({ owner: c.var.owner, ...query });
    return c.json({ jobs: page.jobs.map(toJobView), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(getJob, async (c) =>
    c.json(toJobView(await jobs.get(c.var.owner, c.req.valid('param').id)), 200),
  );

  app.openapi(stopJob, async (c) =>
    c.json(toJobView(await jobs.stop(c.var.owner, c.req.valid('param').id)), 200),
  );

  app.openapi(deleteJob, async (c) => {
    await jobs.delete(c.var.owner, c.req.valid('param').id);
    return c.body(null, 204);
  });

  app.openapi(jobLogs, async (c) => {
    const owner = c.var.owner;
    const { id } = c.req.valid('param');
    const query = c.req.valid('query');
    const lastEventId = Number(c.req.header('last-event-id'));
    const offset = query.offset ?? (Number.isSafeInteger(lastEventId) ? lastEventId : 0);
    await jobs.get(owner, id); // a 404 before the stream starts, not inside it
    return streamSSE(c, async (stream) => {
      const gone = new AbortController();
      stream.onAbort(() => gone.abort());
      // Comments keep proxies from closing a quiet stream; they carry no data.
      const keepAlive = setInterval(() => void stream.write(': keep-alive\n\n'), 15_000);
      // A run's start and its sync progress, as they happen (a started one's start at once).
      const unwatch = await jobs.watch(owner, id, (event) => {
        const data = event.type === 'started' ? { sandboxId: event.sandboxId } : event.progress;
        void stream.writeSSE({ event: event.type, data: JSON.stringify(data) });
      });
      try {
        const chunks = jobs.readLog(owner, id, {
          offset,
          follow: query.follow ?? false,
          signal: gone.signal,
        });
        for await (const chunk of chunks) {
          const text = chunk.data.toString('utf8');
          const payload = Buffer.from(text, 'utf8').equals(chunk.data)
            ? { offset: chunk.offset, text }
            : { offset: chunk.offset, base64: chunk.data.toString('base64') };
          await stream.writeSSE({
            event: chunk.stream,
            id: String(chunk.offset + chunk.data.length),
            data: JSON.stringify(payload),
          });
        }
        if (!gone.signal.aborted) {
          const job = await jobs.get(owner, id);
          await stream.writeSSE({ event: 'end', data: JSON.stringify(toJobView(job)) });
        }
      } finally {
        unwatch();
        clearInterval(keepAlive);
      }
    });
  });
}
