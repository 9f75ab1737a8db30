import { createNodeWebSocket } from '@hono/node-ws';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { shellProtocol } from '../api/websocket-protocols.ts';
import { serverLocations } from '../jobs/owner-facing-error.ts';
import { registerDashboardRoutes } from './dashboard/dashboard-routes.ts';
import { errorHandler, validationResponse } from './error-response.ts';
import { forwardToHosts } from './forwarding/forward-sandbox-requests.ts';
import { requireToken } from './middleware/authenticate.ts';
import { limitOpenStreams } from './middleware/limit-streams.ts';
import { OwnerStreams } from './owner-streams.ts';
import { registerArchiveRoutes } from './routes/archive-routes.ts';
import { registerCronRoutes } from './routes/cron-routes.ts';
import { registerHostRoutes } from './routes/host-routes.ts';
import { registerJobRoutes } from './routes/job-routes.ts';
import { registerMcpRoutes } from './routes/mcp-routes.ts';
import { registerPlanRoutes } from './routes/plan-routes.ts';
import { registerProjectRoutes } from './routes/project-routes.ts';
import { registerSandboxRoutes } from './routes/sandbox-routes.ts';
import { registerSystemRoutes } from './routes/system-routes.ts';
import { registerTicketRoutes } from './routes/ticket-routes.ts';
import { hookPath, registerTriggerRoutes } from './routes/trigger-routes.ts';
import { registerUploadRoutes } from './routes/upload-routes.ts';
import { registerUrlRoutes } from './routes/url-routes.ts';
import { registerWorkspaceRoutes } from './routes/workspace-routes.ts';
import type { ServerEnv, ServerServices } from './server-env.ts';

export type ServerApp = OpenAPIHono<ServerEnv>;

/**
 * The REST API (`/v1`) as a Hono app: middleware per concern (request id, body limit, token),
 * routes per resource, every input validated by the schemas in `schemas.ts`. No I/O here; the
 * app is served by `start-server.ts` and exercised in-process with `app.request()` in tests.
 */
export function createApp(services: ServerServices): {
  app: ServerApp;
  injectWebSocket: ReturnType<typeof createNodeWebSocket>['injectWebSocket'];
} {
  const app = new OpenAPIHono<ServerEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return validationResponse(result.target, result.error, c);
    },
  });
  app.use(requestId());
  // API answers are one owner's data: never kept by a shared cache, never sniffed as another
  // type. Event streams keep their own `no-cache`.
  app.use('/v1/*', async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    if (!c.res.headers.has('cache-control')) c.header('Cache-Control', 'no-store');
  });
  const errorResponse = errorHandler(serverLocations(services.context));
  app.onError(errorResponse);
  // Set below, once the dashboard's routes are registered: its page for a browser's unknown path.
  let notFoundPage: ((c: Context) => Promise<Response> | undefined) | undefined;
  app.notFound(
    (c) =>
      notFoundPage?.(c) ?? errorResponse(new HTTPException(404, { message: 'No such route.' }), c),
  );
  // JSON bodies are small; only the file upload streams a larger body, under its own limit. A
  // declared Content-Length over the limit is answered at once, without reading the body.
  app.use('/v1/*', async (c, next) => {
    if (streamsItsBody(c.req.method, c.req.path)) return next();
    return bodyLimit({
      maxSize: services.limits.maxJsonBytes,
      onError: () => {
        throw new HTTPException(413, {
          message: `Request body over the ${services.limits.maxJsonBytes}-byte limit.`,
        });
      },
    })(c, next);
  });
  const tokenCheck = requireToken(services.repository, {
    acceptLocalOwner: services.acceptLocalOwner,
  });
  // A webhook carries no token: its signature, checked by the route, says whose trigger it is.
  app.use('/v1/*', (c, next) =>
    c.req.method === 'POST' && hookPath.test(c.req.path) ? next() : tokenCheck(c, next),
  );
  // After the token: a long-lived answer counts against its owner's limit while it lasts.
  // One count per server: the URL proxy's WebSockets count in it too.
  services.streams ??= new OwnerStreams(services.limits.maxStreamsPerOwner);
  app.use('/v1/*', limitOpenStreams(services.streams));
  // After the token: a request for the caller's sandbox held by another host is answered there.
  if (services.forwarder) app.use('/v1/*', forwardToHosts(services.forwarder, streamsItsBody));
  registerSystemRoutes(app, services); // /health is outside /v1: no token needed
  registerJobRoutes(app, services);
  registerUploadRoutes(app, services);
  // The shell's WebSocket upgrade needs the Node server; injectWebSocket attaches it there.
  const webSockets = createNodeWebSocket({ app });
  // A browser offers its token as a subprotocol beside `mags-shell` (websocket-protocols.ts);
  // ws would select the first one offered and so could echo the token in the handshake's answer.
  // Only `mags-shell` is ever selected (none when it is not offered, as by the CLI).
  webSockets.wss.options.handleProtocols = (offered: Set<string>) =>
    offered.has(shellProtocol) ? shellProtocol : false;
  registerSandboxRoutes(app, services, webSockets.upgradeWebSocket);
  registerWorkspaceRoutes(app, services);
  registerProjectRoutes(app, services);
  registerTicketRoutes(app, services);
  registerCronRoutes(app, services);
  registerTriggerRoutes(app, services);
  registerPlanRoutes(app, services);
  if (services.urls) registerUrlRoutes(app, services.urls);
  registerArchiveRoutes(app, services);
  registerHostRoutes(app, services);
  // The MCP endpoint: its tools call the routes above in-process with the session's token.
  registerMcpRoutes(app, services, tokenCheck);
  // The web dashboard: static files and its pages' paths, outside /v1 (a client of the API).
  notFoundPage = registerDashboardRoutes(app, services.dashboardDirectory).notFoundPage;
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'mags API', version: services.version },
    security: [{ bearer: [] }],
  });
  return { app, injectWebSocket: webSockets.injectWebSocket };
}

/**
 * The routes that read their own body as a stream (with their own limit), by method and exact
 * route: a path that merely ends like one (`PATCH /v1/sandboxes/files`) is not one of them.
 */
const streamedBodyRoutes: { method: string; path: RegExp }[] = [
  { method: 'PUT', path: /^\/v1\/sandboxes\/[^/]+\/files$/ },
  { method: 'POST', path: /^\/v1\/uploads$/ },
  { method: 'POST', path: hookPath }, // read under its own 256 KiB limit
  { method: 'PUT', path: /^\/v1\/(?:sandboxes|workspaces)\/[^/]+\/archive$/ },
];

export function streamsItsBody(method: string, path: string): boolean {
  return streamedBodyRoutes.some((route) => route.method === method && route.path.test(path));
}
