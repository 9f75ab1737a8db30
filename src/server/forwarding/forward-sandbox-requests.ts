import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Context, MiddlewareHandler } from 'hono';
import type { ServerEnv } from '../server-env.ts';
import { requestHost } from './forward-http.ts';
import { forwardedByHeader, type HostForwarder, type HostTarget } from './host-forwarder.ts';

const sandboxPath = /^\/v1\/sandboxes\/([^/]+)(?:\/([^/]+))?$/;
const workspaceArchivePath = /^\/v1\/workspaces\/([^/]+)\/archive$/;

/**
 * The route-level guard of the API (after the token): a request acting on a long-lived sandbox
 * (or a copy in or out of a workspace a sandbox there uses) held by another host is answered by
 * that host, as it streams; a new sandbox, or a workspace copy, asked of a server without a
 * runtime goes to a host placed for it. Everything else, and
 * every request for something not the caller's, goes on to the routes here. Reads of shared
 * state (a sandbox's record, its URLs, job records and logs) are answered here.
 */
export function forwardToHosts(forwarder: HostForwarder): MiddlewareHandler<ServerEnv> {
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
    const raw = c.req.raw.body;
    const answer = await requestHost(
      target,
      forwarder.host,
      {
        method: c.req.method,
        path: `${url.pathname}${url.search}`,
        headers,
        body: body
          ? Readable.from([body])
          : raw
            ? Readable.fromWeb(raw as import('node:stream/web').ReadableStream)
            : undefined,
      },
      forwarder.connectTimeoutMs,
    );
    const answerHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined || hopByHopAnswer.has(name)) continue;
      for (const one of Array.isArray(value) ? value : [value]) answerHeaders.append(name, one);
    }
    const status = answer.statusCode ?? 502;
    const empty = c.req.method === 'HEAD' || status === 204 || status === 304;
    if (empty) answer.resume();
    // The client going away cancels the web stream, which destroys the host's answer.
    return new Response(empty ? null : (Readable.toWeb(answer) as ReadableStream<Uint8Array>), {
      status,
      headers: answerHeaders,
    });
  };
}

const hopByHopAnswer = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'trailer',
  'upgrade',
]);

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
  if (method === 'GET' && (action === undefined || action === 'urls')) return undefined;
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
