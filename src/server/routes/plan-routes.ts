import { createRoute, z } from '@hono/zod-openapi';
import {
  CreatePlanBodySchema,
  EditPlanBodySchema,
  type Plan,
  PlanEventsQuerySchema,
  PlanEvidenceSchema,
  PlanIdSchema,
  PlanListQuerySchema,
  PlanListSchema,
  PlanSchema,
  RetryPlanTicketBodySchema,
} from '../../api/plans.ts';
import { ApproveBodySchema, StopBodySchema } from '../../api/tickets.ts';
import type { PlanRecord } from '../../state/state-repository.ts';
import type { ServerApp } from '../create-app.ts';
import type { ServerServices } from '../server-env.ts';
import { errorResponses } from './error-responses.ts';
import { eventStreamResponse, resumePoint } from './event-stream-response.ts';
import { optionalJson } from './optional-json.ts';
import { planChangesResponse } from './plan-changes-stream.ts';
import { jsonBody, jsonResponse, resourceActions } from './resource-routes.ts';

const errors = errorResponses('The plan is in a status that does not allow this');
const planResponse = (description: string) => jsonResponse(PlanSchema, description);
const params = z.object({ id: PlanIdSchema });

/** A POST on one plan: `/v1/plans/{id}/<action>`. */
const action = resourceActions({
  collection: 'plans',
  params,
  resource: PlanSchema,
  description: 'The plan',
  errors,
});

const create = createRoute({
  method: 'post',
  path: '/v1/plans',
  summary:
    'Plan a request to a project: a planner model writes it in the background (`planning`, then ' +
    '`draft`), or `spec` gives it at once; `auto` approves it as soon as it is written',
  request: { body: jsonBody(CreatePlanBodySchema, true) },
  responses: { 201: planResponse('The plan'), ...errors },
});

const list = createRoute({
  method: 'get',
  path: '/v1/plans',
  summary: 'List plans, newest first; with `follow`, follow them as Server-Sent Events',
  description:
    'With `follow=true` the answer is text/event-stream: a `plans` event carrying the list, then ' +
    'a `plan` event carrying a Plan each time one the project filter selects is made or edited, ' +
    "or changes status, progress (its tickets' states) or usage (a dashboard follows the list " +
    'on one stream).',
  request: { query: PlanListQuerySchema },
  responses: {
    200: {
      content: {
        'application/json': { schema: PlanListSchema },
        'text/event-stream': { schema: z.string() },
      },
      description: 'Plans',
    },
    ...errors,
  },
});

const get = createRoute({
  method: 'get',
  path: '/v1/plans/{id}',
  summary: 'A plan, with its tickets, their states and usage',
  request: { params },
  responses: { 200: planResponse('The plan'), ...errors },
});

const editSpec = createRoute({
  method: 'put',
  path: '/v1/plans/{id}/spec',
  summary:
    "Replace a draft's plan (summary and tickets), checked as the planner's is: unique keys, " +
    'known dependencies, no cycle; with `ifUpdatedAt`, a 409 `plan_changed` if the plan changed ' +
    'since',
  request: { params, body: jsonBody(EditPlanBodySchema, true) },
  responses: { 200: planResponse('The plan'), ...errors },
});

const approve = action(
  'approve',
  'Approve it: a draft starts running its tickets; a plan awaiting review becomes branch ' +
    'mags/plan-<id> in the project repository, and a bundle to apply',
  ApproveBodySchema,
);
const retry = createRoute({
  method: 'post',
  path: '/v1/plans/{id}/retry',
  summary:
    'Run one of its failed, stopped or blocked tickets again (by key or ticket id); a blocked or ' +
    'stopped plan runs again',
  request: { params, body: jsonBody(RetryPlanTicketBodySchema, true) },
  responses: { 200: planResponse('The plan'), ...errors },
});
const stop = action(
  'stop',
  'Stop it: its queued and running tickets are stopped, nothing new starts',
  StopBodySchema,
);
const close = action('close', 'Close it (stopped first if it runs)');

const events = createRoute({
  method: 'get',
  path: '/v1/plans/{id}/events',
  summary:
    "Its events: plan and ticket states, planner tries, merges, and each ticket's own events",
  description:
    "Server-Sent Events, as a ticket's: each named after its `data.type` and carrying a " +
    "PlanEvent as JSON, its `id` the event's id, so a client resumes with `?after=` or " +
    '`Last-Event-ID` (`after=latest`: none of those stored, only those to come, for a client ' +
    'that read the plan). Without `follow=true` the stored events after `after`; with it, also ' +
    'those to come, until the plan stops moving (an `auto` draft moves on into its run). Either ' +
    'way the stream ends with an `end` event that carries the plan.',
  request: { params, query: PlanEventsQuerySchema },
  responses: {
    200: {
      content: {
        'text/event-stream': {
          schema: z.string().openapi({ description: 'Events, each a PlanEvent as JSON' }),
        },
      },
      description: 'The events',
    },
    ...errors,
  },
});

const evidence = createRoute({
  method: 'get',
  path: '/v1/plans/{id}/evidence',
  summary:
    "The integration's evidence: every ticket merged in order, the combined diff, the project's " +
    "tests there, every ticket's verified criteria",
  request: { params },
  responses: {
    200: {
      content: { 'application/json': { schema: PlanEvidenceSchema } },
      description: 'Evidence',
    },
    ...errors,
  },
});

const bundle = createRoute({
  method: 'get',
  path: '/v1/plans/{id}/bundle',
  summary: 'The approved plan as a git bundle (what `mags plan apply` fetches)',
  request: { params },
  responses: {
    200: {
      content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
      description: 'A git bundle of branch mags/plan-<id>',
    },
    ...errors,
  },
});

/** The API's view of a stored plan: without its owner and the server that drives it. */
export function toPlanView(record: PlanRecord): Plan {
  const { owner: _owner, host: _host, server: _server, ...plan } = record;
  return plan;
}

export function registerPlanRoutes(app: ServerApp, { plans }: ServerServices): void {
  app.openapi(create, async (c) => {
    const plan = await plans.create(c.var.owner, c.req.valid('json'));
    return c.json(toPlanView(plan), 201);
  });

  app.openapi(list, async (c) => {
    const { follow, ...filter } = c.req.valid('query');
    if (follow === 'true') return planChangesResponse(c, plans, c.var.owner, filter, toPlanView);
    const found = await plans.list(c.var.owner, filter);
    return c.json({ plans: found.map(toPlanView) }, 200);
  });

  app.openapi(get, async (c) =>
    c.json(toPlanView(await plans.get(c.var.owner, c.req.valid('param').id)), 200),
  );

  app.openapi(editSpec, async (c) => {
    const { ifUpdatedAt, ...spec } = c.req.valid('json');
    const plan = await plans.editSpec(c.var.owner, c.req.valid('param').id, spec, {
      ...(ifUpdatedAt !== undefined && { ifUpdatedAt }),
    });
    return c.json(toPlanView(plan), 200);
  });

  app.openapi(approve, async (c) => {
    const body = await optionalJson(c.req, ApproveBodySchema);
    const plan = await plans.approve(c.var.owner, c.req.valid('param').id, {
      ...body,
      by: c.var.owner,
    });
    return c.json(toPlanView(plan), 200);
  });

  app.openapi(retry, async (c) => {
    const { ticket, budget, resolve } = c.req.valid('json');
    const plan = await plans.retry(c.var.owner, c.req.valid('param').id, {
      ticket,
      ...(budget && { budget }),
      ...(resolve !== undefined && { resolve }),
    });
    return c.json(toPlanView(plan), 200);
  });

  app.openapi(stop, async (c) => {
    const body = await optionalJson(c.req, StopBodySchema);
    const plan = await plans.stop(c.var.owner, c.req.valid('param').id, {
      by: c.var.owner,
      ...(body?.reason && { reason: body.reason }),
    });
    return c.json(toPlanView(plan), 200);
  });

  app.openapi(close, async (c) => {
    const plan = await plans.close(c.var.owner, c.req.valid('param').id, { by: c.var.owner });
    return c.json(toPlanView(plan), 200);
  });

  app.openapi(evidence, async (c) =>
    c.json(await plans.evidence(c.var.owner, c.req.valid('param').id), 200),
  );

  app.openapi(bundle, async (c) => {
    const bytes = await plans.bundle(c.var.owner, c.req.valid('param').id);
    return c.body(new Uint8Array(bytes), 200, { 'content-type': 'application/octet-stream' });
  });

  app.openapi(events, async (c) => {
    const owner = c.var.owner;
    const { id } = c.req.valid('param');
    const query = c.req.valid('query');
    await plans.get(owner, id); // a 404 before the stream starts, not inside it
    const after =
      query.after === 'latest' ? await plans.lastEventId(owner, id) : resumePoint(c, query.after);
    return eventStreamResponse(c, {
      events: (signal) =>
        plans.events(owner, id, { after, follow: query.follow === 'true', signal }),
      end: async () => toPlanView(await plans.get(owner, id)),
    });
  });
}
