import { createRoute, z } from '@hono/zod-openapi';
import {
  CreateCronBodySchema,
  CronDeleteQuerySchema,
  CronJobListSchema,
  CronJobSchema,
  CronNameSchema,
  CronRunListQuerySchema,
  CronRunListSchema,
  CronRunSchema,
} from '../../api/cron.ts';
import { toCronJobView } from '../../cron/cron-views.ts';
import type { ServerApp } from '../create-app.ts';
import type { ServerServices } from '../server-env.ts';
import { errorResponses } from './error-responses.ts';

// Per route: only a creation meets a taken name or the per-owner limit (cron_limit).
const createErrors = errorResponses(
  'The name is taken (cron_exists), or the owner has as many cron jobs as the server allows (cron_limit)',
);
const errors = errorResponses();
const nameParams = z.object({ name: CronNameSchema });
const cronResponse = (description: string) => ({
  content: { 'application/json': { schema: CronJobSchema } },
  description,
});

const create = createRoute({
  method: 'post',
  path: '/v1/cron',
  summary:
    "Add a cron job: the command runs as an ordinary job at each time of the schedule, while a server runs (400 for a bad schedule, time zone or name, or a schedule more frequent than the server's minimum interval)",
  request: {
    body: { content: { 'application/json': { schema: CreateCronBodySchema } }, required: true },
  },
  responses: { 201: cronResponse('Added and armed'), ...createErrors },
});
const list = createRoute({
  method: 'get',
  path: '/v1/cron',
  summary: 'List cron jobs, oldest first',
  responses: {
    200: { content: { 'application/json': { schema: CronJobListSchema } }, description: 'All' },
    ...errors,
  },
});
const get = createRoute({
  method: 'get',
  path: '/v1/cron/{name}',
  summary: 'A cron job',
  request: { params: nameParams },
  responses: { 200: cronResponse('The cron job'), ...errors },
});
const remove = createRoute({
  method: 'delete',
  path: '/v1/cron/{name}',
  summary:
    'Remove a cron job and its history; its runs still queued or running are left to finish unless `stop`',
  request: { params: nameParams, query: CronDeleteQuerySchema },
  responses: { 204: { description: 'Removed' }, ...errors },
});
const pause = createRoute({
  method: 'post',
  path: '/v1/cron/{name}/pause',
  summary: 'Pause its schedule: no scheduled run until resumed (a manual run still runs)',
  request: { params: nameParams },
  responses: { 200: cronResponse('Paused'), ...errors },
});
const resume = createRoute({
  method: 'post',
  path: '/v1/cron/{name}/resume',
  summary: 'Resume from now: the times passed while paused are not run',
  request: { params: nameParams },
  responses: { 200: cronResponse('Resumed'), ...errors },
});
const runNow = createRoute({
  method: 'post',
  path: '/v1/cron/{name}/run',
  summary:
    'Run it now, outside its schedule (paused or not), under the same overlap rule (the run may be skipped: its status and reason say so; 404 if it is removed meanwhile)',
  request: { params: nameParams },
  responses: {
    201: { content: { 'application/json': { schema: CronRunSchema } }, description: 'The run' },
    ...errors,
  },
});
const runs = createRoute({
  method: 'get',
  path: '/v1/cron/{name}/runs',
  summary: "Its runs, newest first, each with its job's status and exit code",
  request: { params: nameParams, query: CronRunListQuerySchema },
  responses: {
    200: { content: { 'application/json': { schema: CronRunListSchema } }, description: 'A page' },
    ...errors,
  },
});

export function registerCronRoutes(app: ServerApp, { cron }: ServerServices): void {
  app.openapi(create, async (c) => {
    const created = await cron.create(c.var.owner, c.req.valid('json'));
    return c.json(toCronJobView(created), 201);
  });
  app.openapi(list, async (c) => {
    const all = await cron.list(c.var.owner);
    return c.json({ cronJobs: all.map(toCronJobView) }, 200);
  });
  app.openapi(get, async (c) =>
    c.json(toCronJobView(await cron.get(c.var.owner, c.req.valid('param').name)), 200),
  );
  app.openapi(remove, async (c) => {
    const { stop } = c.req.valid('query');
    await cron.remove(c.var.owner, c.req.valid('param').name, { stop: stop ?? false });
    return c.body(null, 204);
  });
  app.openapi(pause, async (c) =>
    c.json(toCronJobView(await cron.pause(c.var.owner, c.req.valid('param').name)), 200),
  );
  app.openapi(resume, async (c) =>
    c.json(toCronJobView(await cron.resume(c.var.owner, c.req.valid('param').name)), 200),
  );
  app.openapi(runNow, async (c) =>
    c.json(await cron.runNow(c.var.owner, c.req.valid('param').name), 201),
  );
  app.openapi(runs, async (c) => {
    const page = await cron.runs(c.var.owner, c.req.valid('param').name, c.req.valid('query'));
    return c.json(page, 200);
  });
}
