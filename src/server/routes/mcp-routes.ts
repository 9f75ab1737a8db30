import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { createMcpServerOnFetch } from '../../mcp/create-mcp-server-on-fetch.ts';
import type { ServerApp } from '../create-app.ts';
import { McpSessions, mcpSessionLimitsFrom } from '../mcp-sessions.ts';
import type { ServerEnv, ServerServices } from '../server-env.ts';

/** The MCP client names its session in this header (streamable HTTP transport). */
const sessionHeader = 'mcp-session-id';

/**
 * `/mcp`: the MCP streamable-HTTP endpoint. The same bearer tokens as `/v1` (a 401 also says
 * `WWW-Authenticate: Bearer`, as MCP clients expect). Each session gets its own MCP server whose
 * tools call this app in-process with the session's token, so every tool goes through the REST
 * API's validation, owner isolation, limits and forwarding to other hosts.
 */
export function registerMcpRoutes(
  app: ServerApp,
  services: ServerServices,
  tokenCheck: MiddlewareHandler<ServerEnv>,
): void {
  services.mcpSessions ??= new McpSessions(
    mcpSessionLimitsFrom(process.env, services.limits.maxJsonBytes),
  );
  const sessions = services.mcpSessions;
  app.use('/mcp', async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    if (!c.res.headers.has('cache-control')) c.header('Cache-Control', 'no-store');
    if (c.res.status === 401) c.header('WWW-Authenticate', 'Bearer');
  });
  app.use('/mcp', tokenCheck);
  app.use(
    '/mcp',
    bodyLimit({
      maxSize: sessions.limits.maxBodyBytes,
      onError: () => {
        throw new HTTPException(413, {
          message: `Request body over the ${sessions.limits.maxBodyBytes}-byte limit.`,
        });
      },
    }),
  );
  app.all('/mcp', async (c) => {
    const sessionId = c.req.header(sessionHeader);
    if (sessionId !== undefined) {
      const session = sessions.find(sessionId, c.var.owner, c.var.tokenId);
      if (!session) return sessionNotFound(c);
      return sessions.handle(session, c.req.raw);
    }
    // No session yet: only an initialize request opens one (nothing is made for anything else).
    if (c.req.method !== 'POST') {
      return jsonRpcError(c, 400, -32000, 'Bad Request: Mcp-Session-Id header is required.');
    }
    let parsedBody: unknown;
    try {
      parsedBody = await c.req.json();
    } catch {
      return jsonRpcError(c, 400, -32700, 'Parse error: the body is not JSON.');
    }
    const initializes = Array.isArray(parsedBody)
      ? parsedBody.some(isInitializeRequest)
      : isInitializeRequest(parsedBody);
    if (!initializes) {
      return jsonRpcError(
        c,
        400,
        -32000,
        'Bad Request: no Mcp-Session-Id header; only an initialize request opens a session.',
      );
    }
    return sessions.open(
      c.var.owner,
      c.var.tokenId,
      () => createSessionServer(app, c),
      c.req.raw,
      parsedBody,
    );
  });
}

/**
 * The session's MCP server, on an SDK client whose requests this app answers in-process with the
 * session's own token: no socket, and nothing any route or middleware reads needs one (a request
 * without `c.env.incoming` is answered as in `app.request()` tests; forwarding to another host
 * answers it as a web response). Its URL is the one the MCP client used, so links the API builds
 * from it (sandbox URLs) are the ones that client can reach.
 */
function createSessionServer(app: ServerApp, c: Context<ServerEnv>): McpServer {
  return createMcpServerOnFetch({
    url: new URL(c.req.url).origin,
    token: /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1],
    fetch: async (input, init) => app.fetch(new Request(input, init)),
  });
}

/**
 * The one answer for an id this server does not hold for this caller: ended (DELETE, idle
 * timeout, restart), never made, another owner's, or made by another server of a cluster.
 */
function sessionNotFound(c: Context<ServerEnv>): Response {
  return jsonRpcError(
    c,
    404,
    -32001,
    'Session not found: it ended (closed, idle too long, or the server restarted), or another ' +
      'server opened it (behind a load balancer, route on the Mcp-Session-Id header). Start a new ' +
      'session with an initialize request.',
  );
}

function jsonRpcError(
  c: Context<ServerEnv>,
  status: 400 | 404,
  code: number,
  message: string,
): Response {
  return c.json({ jsonrpc: '2.0', error: { code, message }, id: null }, status);
}
