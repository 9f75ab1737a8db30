import { createRoute } from '@hono/zod-openapi';
import type { ServerApp } from '../create-app.ts';
import { ErrorSchema, HealthSchema, PoolStatusSchema, WhoamiSchema } from '../schemas.ts';
import type { ServerServices } from '../server-env.ts';

const health = createRoute({
  method: 'get',
  path: '/health',
  summary: 'Liveness, with the job and sandbox counts (no token needed)',
  security: [],
  responses: {
    200: { content: { 'application/json': { schema: HealthSchema } }, description: 'OK' },
  },
});

const whoami = createRoute({
  method: 'get',
  path: '/v1/whoami',
  summary: "The token's owner",
  responses: {
    200: { content: { 'application/json': { schema: WhoamiSchema } }, description: 'OK' },
    401: { content: { 'application/json': { schema: ErrorSchema } }, description: 'No token' },
  },
});

const pool = createRoute({
  method: 'get',
  path: '/v1/pool',
  summary: 'The pool, the warm cache and sleeping sandboxes: sizes and counters (mags pool status)',
  responses: {
    200: { content: { 'application/json': { schema: PoolStatusSchema } }, description: 'OK' },
    401: { content: { 'application/json': { schema: ErrorSchema } }, description: 'No token' },
  },
});

export function registerSystemRoutes(app: ServerApp, services: ServerServices): void {
  app.openapi(health, (c) =>
    c.json(
      {
        status: 'ok' as const,
        version: services.version,
        runtime: services.context.runtime.name,
        jobs: services.jobs.counts,
        sandboxes: { running: services.sandboxes.runningCount },
      },
      200,
    ),
  );
  app.openapi(whoami, (c) => c.json({ owner: c.var.owner, tokenId: c.var.tokenId }, 200));
  app.openapi(pool, async (c) => {
    const status = await services.scheduler.status();
    return c.json({ ...status, sleeping: services.sandboxes.sleepingCount }, 200);
  });
  // Prometheus text format. Outside /v1 and without a token, like /health: scrapers send none,
  // and it holds host-wide counts only, nothing of any owner's.
  app.get('/metrics', async (c) => {
    const { registry } = services.scheduler.metrics;
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });
}
