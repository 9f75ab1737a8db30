import { createRoute, z } from '@hono/zod-openapi';
import {
  CreateSandboxUrlBodySchema,
  SandboxUrlIdSchema,
  SandboxUrlListSchema,
  SandboxUrlSchema,
} from '../../api/sandbox-urls.ts';
import { SandboxNameSchema } from '../../api/schemas.ts';
import type { SandboxUrls } from '../../urls/sandbox-urls.ts';
import type { ServerApp } from '../create-app.ts';
import { errorResponses } from './error-responses.ts';

const errors = errorResponses();
const nameParams = z.object({ name: SandboxNameSchema });

const create = createRoute({
  method: 'post',
  path: '/v1/sandboxes/{name}/urls',
  summary:
    "A URL to a port of the sandbox, served by this server's proxy (private unless public; 501 when its runtime cannot reach ports)",
  request: {
    params: nameParams,
    body: {
      content: { 'application/json': { schema: CreateSandboxUrlBodySchema } },
      required: true,
    },
  },
  responses: {
    201: { content: { 'application/json': { schema: SandboxUrlSchema } }, description: 'Made' },
    ...errors,
  },
});
const listOfSandbox = createRoute({
  method: 'get',
  path: '/v1/sandboxes/{name}/urls',
  summary: "The sandbox's URLs not revoked, oldest first",
  request: { params: nameParams },
  responses: {
    200: { content: { 'application/json': { schema: SandboxUrlListSchema } }, description: 'All' },
    ...errors,
  },
});
const list = createRoute({
  method: 'get',
  path: '/v1/urls',
  summary: "The owner's sandbox URLs not revoked, oldest first",
  responses: {
    200: { content: { 'application/json': { schema: SandboxUrlListSchema } }, description: 'All' },
    ...errors,
  },
});
const revoke = createRoute({
  method: 'delete',
  path: '/v1/urls/{id}',
  summary: 'Revoke a URL: its address and links answer 404 from now on',
  request: { params: z.object({ id: SandboxUrlIdSchema }) },
  responses: { 204: { description: 'Revoked' }, ...errors },
});

/** The API of sandbox URLs; the addresses are made from the origin the request reached. */
export function registerUrlRoutes(app: ServerApp, urls: SandboxUrls): void {
  app.openapi(create, async (c) => {
    const { name } = c.req.valid('param');
    const body = c.req.valid('json');
    const view = await urls.create(
      c.var.owner,
      name,
      {
        port: body.port,
        public: body.public,
        ...(body.expiresInSeconds === undefined
          ? {}
          : { expiresInMs: body.expiresInSeconds * 1000 }),
      },
      new URL(c.req.url),
    );
    return c.json(view, 201);
  });
  app.openapi(listOfSandbox, async (c) => {
    const { name } = c.req.valid('param');
    return c.json({ urls: await urls.list(c.var.owner, new URL(c.req.url), name) }, 200);
  });
  app.openapi(list, async (c) =>
    c.json({ urls: await urls.list(c.var.owner, new URL(c.req.url)) }, 200),
  );
  app.openapi(revoke, async (c) => {
    await urls.revoke(c.var.owner, c.req.valid('param').id);
    return c.body(null, 204);
  });
}
