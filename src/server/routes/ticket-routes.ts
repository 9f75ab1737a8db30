import { createRoute, z } from '@hono/zod-openapi';
import {
  ApproveBodySchema,
  CommentBodySchema,
  CreateTicketBodySchema,
  EvidenceQuerySchema,
  EvidenceSchema,
  RequestChangesBodySchema,
  RunTicketBodySchema,
  StopTicketBodySchema,
  TicketEventSchema,
  TicketEventsQuerySchema,
  TicketIdSchema,
  TicketListQuerySchema,
  TicketListSchema,
  TicketSchema,
} from '../../api/tickets.ts';
import { toTicketView } from '../../tickets/ticket-view.ts';
import type { ServerApp } from '../create-app.ts';
import type { ServerServices } from '../server-env.ts';
import { errorResponses } from './error-responses.ts';
import { eventStreamResponse, resumePoint } from './event-stream-response.ts';
import { optionalJson } from './optional-json.ts';
import { jsonBody, jsonResponse, resourceActions } from './resource-routes.ts';
import { ticketChangesResponse } from './ticket-changes-stream.ts';

const errors = errorResponses('The ticket is in a status that does not allow this');
const ticketResponse = (description: string) => jsonResponse(TicketSchema, description);
const params = z.object({ id: TicketIdSchema });

/** A POST on one ticket: `/v1/tickets/{id}/<action>`. */
const action = resourceActions({
  collection: 'tickets',
  params,
  resource: TicketSchema,
  description: 'The ticket',
  errors,
});

const create = createRoute({
  method: 'post',
  path: '/v1/tickets',
  summary: 'Create a ticket of a project: a draft, or queued with `run`',
  request: { body: jsonBody(CreateTicketBodySchema, true) },
  responses: { 201: ticketResponse('The ticket'), ...errors },
});

const list = createRoute({
  method: 'get',
  path: '/v1/tickets',
  summary: 'List tickets, newest first; with `follow`, follow them as Server-Sent Events',
  description:
    'With `follow=true` the answer is text/event-stream: a `tickets` event carrying the list, ' +
    'then a `ticket` event carrying a Ticket each time one the project and plan filters select ' +
    'changes status or usage (a dashboard board follows all of them on one stream).',
  request: { query: TicketListQuerySchema },
  responses: {
    200: {
      content: {
        'application/json': { schema: TicketListSchema },
        'text/event-stream': { schema: z.string() },
      },
      description: 'Tickets',
    },
    ...errors,
  },
});

const get = createRoute({
  method: 'get',
  path: '/v1/tickets/{id}',
  summary: 'A ticket',
  request: { params },
  responses: { 200: ticketResponse('The ticket'), ...errors },
});

const run = action(
  'run',
  'Queue the next attempt of a draft, failed or stopped ticket (a queued or running one is a 409)',
  RunTicketBodySchema,
);
const stop = action(
  'stop',
  'Stop a queued or running ticket (evidence is still assembled); returns once it stopped',
  StopTicketBodySchema,
);
const requestChanges = createRoute({
  method: 'post',
  path: '/v1/tickets/{id}/request-changes',
  summary: 'Send it back: a new attempt in the same workspace with this feedback and the history',
  request: { params, body: jsonBody(RequestChangesBodySchema, true) },
  responses: { 200: ticketResponse('The ticket, queued for its next attempt'), ...errors },
});
const approve = action(
  'approve',
  'Approve it: a commit on branch mags/<id> in the project repository, and a bundle to apply',
  ApproveBodySchema,
);
const close = action(
  'close',
  'Close it (stopped first if running); its workspace is deleted after the retention period',
);

const comment = createRoute({
  method: 'post',
  path: '/v1/tickets/{id}/comments',
  summary:
    'Comment: a running agent reads it at its next step; otherwise the next attempt, at its start',
  request: { params, body: jsonBody(CommentBodySchema, true) },
  responses: {
    201: {
      content: { 'application/json': { schema: TicketEventSchema } },
      description: 'The comment event',
    },
    ...errors,
  },
});

const events = createRoute({
  method: 'get',
  path: '/v1/tickets/{id}/events',
  summary:
    'Its events as Server-Sent Events; `follow` streams until it is neither queued nor running',
  description:
    'Each event is named after its `data.type` and carries a TicketEvent as JSON; its `id` is ' +
    "the event's id, so a client resumes with `?after=` or `Last-Event-ID`. A final `end` event " +
    'carries the ticket.',
  request: { params, query: TicketEventsQuerySchema },
  responses: { 200: { description: 'text/event-stream' }, ...errors },
});

const evidence = createRoute({
  method: 'get',
  path: '/v1/tickets/{id}/evidence',
  summary: 'The evidence of an attempt (the latest by default)',
  request: { params, query: EvidenceQuerySchema },
  responses: {
    200: { content: { 'application/json': { schema: EvidenceSchema } }, description: 'Evidence' },
    ...errors,
  },
});

const bundle = createRoute({
  method: 'get',
  path: '/v1/tickets/{id}/bundle',
  summary: 'The approved result as a git bundle (what `mags ticket apply` fetches)',
  request: { params },
  responses: {
    200: {
      content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
      description: 'A git bundle of branch mags/<id>',
    },
    ...errors,
  },
});

export function registerTicketRoutes(app: ServerApp, { tickets }: ServerServices): void {
  app.openapi(create, async (c) => {
    const ticket = await tickets.create(c.var.owner, c.req.valid('json'));
    return c.json(toTicketView(ticket), 201);
  });

  app.openapi(list, async (c) => {
    const { follow, ...filter } = c.req.valid('query');
    if (follow === 'true') return ticketChangesResponse(c, tickets, c.var.owner, filter);
    const found = await tickets.list(c.var.owner, filter);
    return c.json({ tickets: found.map(toTicketView) }, 200);
  });

  app.openapi(get, async (c) =>
    c.json(toTicketView(await tickets.get(c.var.owner, c.req.valid('param').id)), 200),
  );

  app.openapi(run, async (c) => {
    const body = await optionalJson(c.req, RunTicketBodySchema);
    const ticket = await tickets.run(c.var.owner, c.req.valid('param').id, body ?? {});
    return c.json(toTicketView(ticket), 200);
  });

  app.openapi(stop, async (c) => {
    const body = await optionalJson(c.req, StopTicketBodySchema);
    const stopped = await tickets.stop(c.var.owner, c.req.valid('param').id, {
      by: c.var.owner,
      reason: body?.reason,
    });
    return c.json(toTicketView(stopped), 200);
  });

  app.openapi(comment, async (c) => {
    const { text } = c.req.valid('json');
    const event = await tickets.comment(c.var.owner, c.req.valid('param').id, {
      author: c.var.owner,
      text,
    });
    return c.json(event, 201);
  });

  app.openapi(requestChanges, async (c) => {
    const { text, budget } = c.req.valid('json');
    const ticket = await tickets.requestChanges(c.var.owner, c.req.valid('param').id, {
      author: c.var.owner,
      text,
      ...(budget && { budget }),
    });
    return c.json(toTicketView(ticket), 200);
  });

  app.openapi(approve, async (c) => {
    const body = await optionalJson(c.req, ApproveBodySchema);
    const ticket = await tickets.approve(c.var.owner, c.req.valid('param').id, body ?? {});
    return c.json(toTicketView(ticket), 200);
  });

  app.openapi(close, async (c) => {
    const ticket = await tickets.close(c.var.owner, c.req.valid('param').id, { by: c.var.owner });
    return c.json(toTicketView(ticket), 200);
  });

  app.openapi(evidence, async (c) => {
    const { attempt } = c.req.valid('query');
    return c.json(await tickets.evidence(c.var.owner, c.req.valid('param').id, attempt), 200);
  });

  app.openapi(bundle, async (c) => {
    const bytes = await tickets.bundle(c.var.owner, c.req.valid('param').id);
    return c.body(new Uint8Array(bytes), 200, { 'content-type': 'application/octet-stream' });
  });

  app.openapi(events, async (c) => {
    const owner = c.var.owner;
    const { id } = c.req.valid('param');
    const query = c.req.valid('query');
    const after = resumePoint(c, query.after);
    await tickets.get(owner, id); // a 404 before the stream starts, not inside it
    return eventStreamResponse(c, {
      events: (signal) =>
        tickets.events(owner, id, { after, follow: query.follow === 'true', signal }),
      end: async () => toTicketView(await tickets.get(owner, id)),
    });
  });
}
