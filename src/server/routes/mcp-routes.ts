import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { MagsError } from '../../errors/mags-error.ts';
import { createMcpServerOnFetch } from '../../mcp/create-mcp-server-on-fetch.ts';
import type { ServerApp } from '../create-app.ts';
import { inProcessFetch } from '../in-process-fetch.ts';
import { SessionCalls } from '../mcp-call-slots.ts';
import { mcpSessionLimitsFrom } from '../mcp-session-limits.ts';
import { McpSessions, serverStopping } from '../mcp-sessions.ts';
import { checkMcpOrigin, mcpAllowedOriginsFrom } from '../middleware/check-mcp-origin.ts';
import type { ServerEnv, ServerServices } from '../server-env.ts';
import { bearerToken } from '../tokens.ts';

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
  services.mcpSessions ??= new McpSessions(mcpSessionLimitsFrom(process.env));
  const sessions = services.mcpSessions;
  app.use('/mcp', async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    if (!c.res.headers.has('cache-control')) c.header('Cache-Control', 'no-store');
    if (c.res.status === 401) c.header('WWW-Authenticate', 'Bearer');
  });
  // A browser page of another origin gets a 403 (cross-site requests, and DNS rebinding: an
  // Origin passes only for a Host that cannot be a rebound name, check-mcp-origin.ts); the
  // bearer token below is the real gate, which a page cannot send on its own.
  app.use('/mcp', checkMcpOrigin(mcpAllowedOriginsFrom(process.env)));
  app.use('/mcp', tokenCheck);
  app.all('/mcp', async (c) => {
    const sessionId = c.req.header(sessionHeader);
    const session =
      sessionId === undefined ? undefined : sessions.find(sessionId, c.var.owner, c.var.tokenId);
    if (sessionId !== undefined && !session) return sessionNotFound(c);
    if (c.req.method !== 'POST') {
      if (session) return sessions.handle(session, c.req.raw);
      return jsonRpcError(c, 400, -32000, 'Bad Request: Mcp-Session-Id header is required.');
    }
    // The body is read only once a reading slot is free, so the bodies in memory are bounded;
    // the caps on requests in flight apply after parsing, to the requests it holds.
    const calls = session?.calls ?? new SessionCalls();
    const giveBack = sessions.calls.reserve(c.var.owner, calls);
    let parsedBody: unknown;
    try {
      parsedBody = await readJsonBody(c.req.raw, sessions.limits.maxBodyBytes);
    } catch (error) {
      if (error instanceof HTTPException) throw error;
      return jsonRpcError(c, 400, -32700, 'Parse error: the body is not JSON.');
    } finally {
      giveBack();
    }
    if (session) return sessions.post(session, c.req.raw, parsedBody);
    // No session yet: only an initialize request opens one (nothing is made for anything else).
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
      () => createSessionServer(app, c, sessions),
      c.req.raw,
      parsedBody,
      calls,
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
function createSessionServer(
  app: ServerApp,
  c: Context<ServerEnv>,
  sessions: McpSessions,
): McpServer {
  const answer = inProcessFetch(app);
  return createMcpServerOnFetch({
    url: new URL(c.req.url).origin,
    token: bearerToken(c.req.header('authorization') ?? ''),
    fetch: async (input, init) =>
      sessions.closing ? errorAnswer(serverStopping()) : answer(input, init),
  });
}

/**
 * The API's error body for `error`, as the app's error handler writes it: what a closing
 * session's tool gets instead of an API answer (its cancelled run_command would otherwise stop
 * a job a restart keeps).
 */
function errorAnswer(error: MagsError): Response {
  const { code, message, hint, statusCode } = error;
  return Response.json({ error: { code, message, hint } }, { status: statusCode ?? 500 });
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

/**
 * The POST's JSON, read here rather than by a body-limit middleware (which reads a chunked body
 * whole before the route runs) so that it is read only once the request holds its slot. A body
 * over `maxBytes` is a 413, like `/v1`'s, as soon as it says or reaches that size.
 */
async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () =>
    new HTTPException(413, { message: `Request body over the ${maxBytes}-byte limit.` });
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      if (size > maxBytes) throw tooLarge();
      chunks.push(chunk);
    }
  }
  return JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
}
