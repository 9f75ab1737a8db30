import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Context, MiddlewareHandler } from 'hono';
import type { ServerEnv } from '../server-env.ts';
import { answerHeaders, requestHost } from './forward-http.ts';
import { forwardedByHeader, type HostForwarder, type HostTarget } from './host-forwarder.ts';

const sandboxPath = /^\/v1\/sandboxes\/([^/]+)(?:\/([^/]+))?$/;
const workspaceArchivePath = /^\/v1\/workspaces\/([^/]+)\/archive$/;

/**
 * The route-level guard of the API (after the token): a request acting on a long-lived sandbox
 * (or a copy in or out of a workspace a sandbox there uses) held by another host is answered by
 * that host, as it streams; a new sandbox, or a workspace copy, asked of a server without a
 * runtime goes to a host placed for it. Everything else, and every request for something not
 * the caller's, goes on to the routes here. Reads of shared state (a sandbox's record, its URLs,
 * job records and logs) are answered here.
 */
export function forwardToHosts(
  forwarder: HostForwarder,
  /** Whether a route reads its own body as a stream (create-app.ts): nothing has read it here. */
  streamsItsBody: (method: string, path: string) => boolean,
): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    // Upgrades are forwarded before they reach the app (forward-upgrade.ts).
    if (c.req.header('upgrade') !== undefined) return next();
    const decided = await targetOf(c, forwarder);
    if (!decided) return next();
    const { target, body } = decided;
    const url = new URL(c.req.url);
    // The client's headers as Node read them (Host included); in-process requests have none.
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const headers: IncomingHttpHeaders = { ...incoming?.headers };
    if (!incoming) {
      c.req.raw.headers.forEach((value, name) => {
        headers[name] = value;
      });
    }
    // The host logs it under the same request id as this server (Hono's requestId takes it).
    headers['x-request-id'] = c.var.requestId;
    if (body) {
      headers['content-length'] = String(body.length);
      delete headers['transfer-encoding'];
    }
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    // From the moment it is sent: a client that leaves before the host answers ends it too.
    const left = new AbortController();
    outgoing?.once('close', () => {
      if (!outgoing.writableFinished) left.abort();
    });
    const answer = await requestHost(
      target,
      forwarder.host,
      {
        method: c.req.method,
        path: `${url.pathname}${url.search}`,
        headers,
        body: body
          ? Readable.from([body])
          : requestBody(c, incoming, streamsItsBody(c.req.method, c.req.path)),
      },
      forwarder.timing(target, left.signal),
    );
    const status = answer.statusCode ?? 502;
    if (outgoing) {
      // Piped as it comes, node stream to node stream (archives are GiBs): the host's answer
      // already carries what this server's middleware would add to it.
      outgoing.writeHead(status, answer.statusMessage, answerHeaders(answer));
      outgoing.flushHeaders();
      outgoing.once('close', () => {
        if (!outgoing.writableFinished) answer.destroy();
      });
      answer.once('error', () => outgoing.destroy());
      answer.pipe(outgoing);
      return new Response(null, { headers: { [alreadySentHeader]: 'true' } });
    }
    // In-process (`app.request()`): a web answer.
    const answerHeaderList = new Headers();
    for (const [name, value] of Object.entries(answerHeaders(answer))) {
      for (const one of Array.isArray(value) ? value : [value ?? ''])
        answerHeaderList.append(name, one);
    }
    const empty = c.req.method === 'HEAD' || status === 204 || status === 304;
    if (empty) answer.resume();
    return new Response(empty ? null : (Readable.toWeb(answer) as ReadableStream<Uint8Array>), {
      status,
      headers: answerHeaderList,
    });
  };
}

/**
 * @hono/node-server's mark of an answer written on the Node response directly
 * (`RESPONSE_ALREADY_SENT` in @hono/node-server/utils/response).
 */
const alreadySentHeader = 'x-hono-already-sent';

/**
 * The request's body as a node stream: the Node request itself on the routes that stream their
 * body (nothing here has read it), else what Hono holds (a JSON body under its limit).
 */
function requestBody(
  c: Context<ServerEnv>,
  incoming: IncomingMessage | undefined,
  streamed: boolean,
): Readable | undefined {
  if (incoming && streamed) return incoming;
  const raw = c.req.raw.body;
  return raw ? Readable.fromWeb(raw as import('node:stream/web').ReadableStream) : undefined;
}

/** Where the request goes (and the body already read to decide it), or undefined: here. */
async function targetOf(
  c: Context<ServerEnv>,
  forwarder: HostForwarder,
): Promise<{ target: HostTarget; body?: Buffer } | undefined> {
  const forwardedBy = c.req.header(forwardedByHeader);
  const owner = c.var.owner;
  const method = c.req.method;
  const path = c.req.path;
  if (path === '/v1/sandboxes' && method === 'POST') {
    const body = Buffer.from(await c.req.arrayBuffer());
    const parsed = parseObject(body);
    if (!parsed) return undefined; // the route answers the bad body
    const target = await forwarder.forNewSandbox(owner, parsed, forwardedBy);
    return target && { target, body };
  }
  const workspace = workspaceArchivePath.exec(path);
  if (workspace && (method === 'PUT' || method === 'GET' || method === 'HEAD')) {
    const target = await forwarder.forWorkspace(owner, decode(workspace[1] as string), forwardedBy);
    return target && { target };
  }
  const sandbox = sandboxPath.exec(path);
  if (!sandbox) return undefined;
  const name = decode(sandbox[1] as string);
  const action = sandbox[2];
  // The record and its URLs are shared state: read here, whichever host holds the sandbox.
  const reads = method === 'GET' || method === 'HEAD';
  if (reads && (action === undefined || action === 'urls')) return undefined;
  const target = await forwarder.forSandbox(
    owner,
    name,
    forwardedBy,
    action === 'start' && method === 'POST' ? 'start' : 'use',
  );
  return target && { target };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // the route refuses the name
  }
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
