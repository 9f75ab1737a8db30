import { createRoute } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { PoolSampleSchema } from '../../api/pool-events.ts';
import {
  ErrorSchema,
  HealthSchema,
  type OwnerUsageInfo,
  PoolStatusSchema,
  WhoamiSchema,
} from '../../api/schemas.ts';
import type { ServerApp } from '../create-app.ts';
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
  summary:
    "The caller's own jobs, sandboxes and parked sandboxes; with an admin token also the host's pool, warm cache and counters (mags pool status)",
  responses: {
    200: { content: { 'application/json': { schema: PoolStatusSchema } }, description: 'OK' },
    401: { content: { 'application/json': { schema: ErrorSchema } }, description: 'No token' },
  },
});

const poolEvents = createRoute({
  method: 'get',
  path: '/v1/pool/events',
  summary:
    'The figures of /v1/pool as Server-Sent Events (`sample`): the first at once, then when they change (checked every second) and at least every 5 seconds',
  responses: {
    200: {
      content: { 'text/event-stream': { schema: PoolSampleSchema } },
      description: 'A stream of samples until the client goes away',
    },
    401: { content: { 'application/json': { schema: ErrorSchema } }, description: 'No token' },
  },
});

/** How often the server looks at the figures, and the longest quiet gap between two samples. */
const poolCheckIntervalMs = 1000;
const poolQuietMaxMs = 5000;

export function registerSystemRoutes(app: ServerApp, services: ServerServices): void {
  app.openapi(health, (c) =>
    c.json(
      {
        status: 'ok' as const,
        version: services.version,
        runtime: services.context.runtime.name,
        runtimes: Object.keys(services.context.runtimes),
        jobs: services.jobs.counts,
        sandboxes: { running: services.sandboxes.runningCount },
      },
      200,
    ),
  );
  app.openapi(whoami, (c) => c.json({ owner: c.var.owner, tokenId: c.var.tokenId }, 200));
  app.openapi(pool, async (c) => c.json(await poolStatus(services, c.var.owner, c.var.admin), 200));
  // Sampled here, once a second, and sent only when something changed (or every few seconds, so
  // a chart's time axis moves): one stream replaces a client's polling loop.
  app.openapi(poolEvents, (c) => {
    const { owner, admin } = c.var;
    return streamSSE(c, async (stream) => {
      let gone = false;
      stream.onAbort(() => {
        gone = true;
      });
      let last = '';
      let lastSentAt = 0;
      while (!gone) {
        const status = await poolStatus(services, owner, admin);
        const figures = JSON.stringify(status);
        if (figures !== last || Date.now() - lastSentAt >= poolQuietMaxMs) {
          last = figures;
          lastSentAt = Date.now();
          const sample = { ...status, at: new Date(lastSentAt).toISOString() };
          await stream.writeSSE({ event: 'sample', data: JSON.stringify(sample) });
        }
        await stream.sleep(poolCheckIntervalMs);
      }
    });
  });
  // Prometheus text format. Outside /v1 and without a token, like /health: scrapers send none,
  // and it holds host-wide counts only (labels are reasons and paths, never an owner or a name).
  app.get('/metrics', async (c) => {
    const { registry } = services.scheduler.metrics;
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });
}

async function poolStatus(services: ServerServices, owner: string, admin: boolean) {
  // Another owner's activity is none of an owner's business: host-wide figures are an admin's.
  const usage = ownerUsage(services, owner);
  if (!admin) return { owner: usage, host: null };
  const status = await services.scheduler.status();
  const host = {
    ...status,
    sleeping: services.sandboxes.sleepingCount,
    jobs: services.jobs.counts,
  };
  return { owner: usage, host };
}

function ownerUsage(services: ServerServices, owner: string): OwnerUsageInfo {
  const jobs = services.jobs.countsFor(owner);
  const sandboxes = services.sandboxes.countsFor(owner);
  const limits = services.jobs.perOwnerLimits;
  const finite = (limit: number) => (Number.isFinite(limit) ? limit : null);
  return {
    name: owner,
    jobs: { ...jobs, maxRunning: finite(limits.running), maxQueued: finite(limits.queued) },
    sandboxes: { ...sandboxes, max: finite(services.sandboxes.maxPerOwner) },
    parked: services.scheduler.warm.parkedCountFor(owner),
  };
}
