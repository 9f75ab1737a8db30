import { createRoute, z } from '@hono/zod-openapi';
import {
  CreatedTriggerSchema,
  CreateTriggerBodySchema,
  FireTriggerBodySchema,
  FiringListQuerySchema,
  FiringListSchema,
  FiringResponseSchema,
  TriggerIdSchema,
  TriggerListSchema,
  TriggerRefSchema,
  TriggerSchema,
} from '../../api/triggers.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { toFiringView, toTriggerView } from '../../triggers/trigger-view.ts';
import type { ServerApp } from '../create-app.ts';
import type { ServerServices } from '../server-env.ts';
import { errorResponses } from './error-responses.ts';

const errors = errorResponses('A trigger of that name exists');
const params = z.object({ id: TriggerRefSchema });
const triggerResponse = (description: string) => ({
  content: { 'application/json': { schema: TriggerSchema } },
  description,
});
const firingResponse = (description: string) => ({
  content: { 'application/json': { schema: FiringResponseSchema } },
  description,
});

const create = createRoute({
  method: 'post',
  path: '/v1/triggers',
  summary: 'Add a trigger: a ticket template fired by a schedule, a webhook or an event',
  request: {
    body: { content: { 'application/json': { schema: CreateTriggerBodySchema } }, required: true },
  },
  responses: {
    201: {
      content: { 'application/json': { schema: CreatedTriggerSchema } },
      description: "The trigger, and a webhook's signing secret (shown only here)",
    },
    ...errors,
  },
});
const list = createRoute({
  method: 'get',
  path: '/v1/triggers',
  summary: 'List triggers, oldest first',
  responses: {
    200: {
      content: { 'application/json': { schema: TriggerListSchema } },
      description: 'Triggers',
    },
    ...errors,
  },
});
const get = createRoute({
  method: 'get',
  path: '/v1/triggers/{id}',
  summary: 'A trigger, by id or name',
  request: { params },
  responses: { 200: triggerResponse('The trigger'), ...errors },
});
const firings = createRoute({
  method: 'get',
  path: '/v1/triggers/{id}/firings',
  summary:
    'Its firings, newest first: what each did (created, merged, skipped, failed, missed) and why',
  request: { params, query: FiringListQuerySchema },
  responses: {
    200: { content: { 'application/json': { schema: FiringListSchema } }, description: 'Firings' },
    ...errors,
  },
});
const pause = createRoute({
  method: 'post',
  path: '/v1/triggers/{id}/pause',
  summary: 'Pause it: a schedule stops; other firings are recorded as skipped',
  request: { params },
  responses: { 200: triggerResponse('The trigger'), ...errors },
});
const resume = createRoute({
  method: 'post',
  path: '/v1/triggers/{id}/resume',
  summary: 'Resume it (a schedule goes on from now)',
  request: { params },
  responses: { 200: triggerResponse('The trigger'), ...errors },
});
const rotateSecret = createRoute({
  method: 'post',
  path: '/v1/triggers/{id}/rotate-secret',
  summary: "A webhook trigger's new signing secret (shown only here); the old one stops at once",
  request: { params },
  responses: {
    200: {
      content: { 'application/json': { schema: CreatedTriggerSchema } },
      description: 'The trigger (its URL unchanged) and its new secret',
    },
    ...errors,
  },
});
const remove = createRoute({
  method: 'delete',
  path: '/v1/triggers/{id}',
  summary: 'Remove it and its history (the tickets it created stay)',
  request: { params },
  responses: { 204: { description: 'Removed' }, ...errors },
});
const fire = createRoute({
  method: 'post',
  path: '/v1/triggers/{id}/fire',
  summary: 'Fire it now, with an optional payload, through its limits',
  request: {
    params,
    body: { content: { 'application/json': { schema: FireTriggerBodySchema } }, required: false },
  },
  responses: { 200: firingResponse('The firing'), ...errors },
});
const hook = createRoute({
  method: 'post',
  path: '/v1/hooks/{id}',
  summary: "A webhook delivery: no token; signed with the trigger's secret",
  description:
    'X-Mags-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with the secret>; ' +
    'X-Mags-Timestamp: unix seconds (within 300 s); X-Mags-Delivery: a unique id (a replay is a ' +
    '409). The body (JSON, at most 256 KiB) is the payload the template sees.',
  security: [],
  request: {
    params: z.object({ id: TriggerIdSchema.openapi({ param: { name: 'id', in: 'path' } }) }),
  },
  responses: {
    202: firingResponse('Accepted: the firing (created, merged or skipped)'),
    ...errorResponses('Replayed delivery (X-Mags-Delivery or signature seen before)'),
    413: { description: 'Body over 256 KiB' },
  },
});

export function registerTriggerRoutes(app: ServerApp, { triggers }: ServerServices): void {
  app.openapi(create, async (c) => {
    const { trigger, secret } = await triggers.add(c.var.owner, c.req.valid('json'));
    return c.json({ trigger: toTriggerView(trigger), secret }, 201);
  });
  app.openapi(list, async (c) => {
    const found = await triggers.list(c.var.owner);
    return c.json({ triggers: found.map(toTriggerView) }, 200);
  });
  app.openapi(get, async (c) =>
    c.json(toTriggerView(await triggers.get(c.var.owner, c.req.valid('param').id)), 200),
  );
  app.openapi(firings, async (c) => {
    const { limit } = c.req.valid('query');
    const found = await triggers.firings(c.var.owner, c.req.valid('param').id, limit);
    return c.json({ firings: found.map(toFiringView) }, 200);
  });
  app.openapi(pause, async (c) =>
    c.json(toTriggerView(await triggers.pause(c.var.owner, c.req.valid('param').id)), 200),
  );
  app.openapi(resume, async (c) =>
    c.json(toTriggerView(await triggers.resume(c.var.owner, c.req.valid('param').id)), 200),
  );
  app.openapi(rotateSecret, async (c) => {
    const rotated = await triggers.rotateSecret(c.var.owner, c.req.valid('param').id);
    return c.json({ trigger: toTriggerView(rotated.trigger), secret: rotated.secret }, 200);
  });
  app.openapi(remove, async (c) => {
    await triggers.remove(c.var.owner, c.req.valid('param').id);
    return c.body(null, 204);
  });
  app.openapi(fire, async (c) => {
    const text = await c.req.text();
    let body: unknown = {};
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        throw new InvalidInputError('The body is not JSON.', {
          hint: 'Send {"payload": ...}, or none.',
        });
      }
    }
    const parsed = FireTriggerBodySchema.safeParse(body);
    if (!parsed.success) {
      throw new InvalidInputError(`body: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
        hint: 'Send {"payload": ...}, or no body.',
      });
    }
    const firing = await triggers.fire(c.var.owner, c.req.valid('param').id, parsed.data.payload);
    return c.json({ firing: toFiringView(firing) }, 200);
  });
  app.openapi(hook, async (c) => {
    const firing = await triggers.hook(c.req.valid('param').id, {
      header: (name) => c.req.header(name),
      body: c.req.raw.body,
    });
    return c.json({ firing: toFiringView(firing) }, 202);
  });
}

/** The webhook route: no bearer token (its signature authenticates it) and its own body limit. */
export const hookPath = /^\/v1\/hooks\/[^/]+$/;
