import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { UrlAccess } from '../urls/url-access.ts';
import { linkParameter } from '../urls/url-addresses.ts';
import { forwardedByHeader } from './forwarding/host-forwarder.ts';

/** Headers of one hop only (RFC 9110 §7.6.1): never passed on by a proxy. */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * What the sandbox's server is sent: the client's headers less those of this hop and less the
 * credential that let the request in (the owner's token, the link cookie), plus
 * X-Forwarded-For/Host/Proto. An upgrade keeps its `Connection: Upgrade` and `Upgrade`.
 */
export function forwardedHeaders(
  request: IncomingMessage,
  access: UrlAccess,
  options: { upgrade?: boolean } = {},
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(request.headers)) {
    // Which server forwarded it (forwarding/) is between mags servers, not the app's.
    if (value === undefined || hopByHop.has(name) || name === forwardedByHeader) continue;
    // The owner's mags token is never the app's, whatever let the request in (a public URL too).
    if (name === 'authorization' && (access.via === 'token' || isMagsToken(value))) continue;
    if (name === 'cookie') {
      const kept = withoutLinkCookies(Array.isArray(value) ? value.join('; ') : value);
      if (kept) headers.cookie = kept;
      continue;
    }
    headers[name] = value;
  }
  // A body without a length (chunked) is sent chunked again. Without this, Node's client writes
  // a GET's body unframed, and what the body holds reads as a second request on a keep-alive
  // relay that the next visitor's request then shares (request smuggling).
  if (request.headers['transfer-encoding'] !== undefined && !request.headers['content-length']) {
    headers['transfer-encoding'] = 'chunked';
  }
  if (options.upgrade) {
    headers.connection = 'Upgrade';
    if (request.headers.upgrade) headers.upgrade = request.headers.upgrade;
  }
  const client = request.socket.remoteAddress ?? '';
  const before = request.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = before ? `${before}, ${client}` : client;
  if (request.headers.host) headers['x-forwarded-host'] = request.headers.host;
  headers['x-forwarded-proto'] = protocolOf(request);
  return headers;
}

/**
 * The protocol the client used: this server speaks plain HTTP, and only a front end on this
 * host (a TLS proxy on loopback) is believed when it says `X-Forwarded-Proto: https`.
 */
export function protocolOf(request: IncomingMessage): 'http' | 'https' {
  const said = request.headers['x-forwarded-proto'];
  const address = request.socket.remoteAddress ?? '';
  const loopback = /^(127\.|::1$|::ffff:127\.)/.test(address);
  return loopback && typeof said === 'string' && said.trim().toLowerCase() === 'https'
    ? 'https'
    : 'http';
}

function isMagsToken(value: string | string[]): boolean {
  return (Array.isArray(value) ? value : [value]).some((one) => /^Bearer\s+mags_/i.test(one));
}

/**
 * The sandbox's answer's headers, less those of its hop (this server frames its own answer) and
 * less `Service-Worker-Allowed` (a page must not claim a scope wider than its script's path). In
 * the path form (`pathPrefix` `/u/ID`), a cookie's `Path=` is put under the URL's prefix, so an
 * app's cookie never reaches the server's other paths.
 */
export function answerHeaders(
  answer: IncomingMessage,
  options: { pathPrefix?: string } = {},
): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (hopByHop.has(name) || name === 'service-worker-allowed') continue;
    headers[name] = value;
  }
  const { pathPrefix } = options;
  if (pathPrefix && headers['set-cookie']) {
    headers['set-cookie'] = headers['set-cookie'].map((cookie) =>
      cookie.replace(/;\s*path=([^;]*)/gi, (_whole, path: string) => {
        const under = path.trim().startsWith('/') ? path.trim() : '/';
        return `; Path=${pathPrefix}${under}`;
      }),
    );
  }
  return headers;
}

/** Signed links a request carries: its `mags_link` query parameter first, then its cookies. */
export function linksOf(
  request: IncomingMessage,
  path: string,
): { fromQuery: boolean; links: string[] } {
  const links: string[] = [];
  const query = new URL(path, 'http://x').searchParams.get(linkParameter);
  if (query) links.push(query);
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === linkParameter && value.length > 0) links.push(value.join('='));
  }
  return { fromQuery: query !== null, links };
}

/** The path and query without the `mags_link` parameter. */
export function withoutLink(path: string): string {
  const query = path.indexOf('?');
  if (query < 0) return path;
  const parameters = new URLSearchParams(path.slice(query + 1));
  if (!parameters.has(linkParameter)) return path;
  parameters.delete(linkParameter);
  const rest = parameters.toString();
  return `${path.slice(0, query)}${rest ? `?${rest}` : ''}`;
}

/**
 * The cookie a link's first visit sets, so a browser goes on without the link in every URL:
 * scoped to this URL's path (or its host, in the host form), HttpOnly, SameSite=Lax, ending
 * with the link.
 */
export function linkCookie(
  link: string,
  expiresAtMs: number,
  path: string,
  secure: boolean,
): string {
  const maxAgeSeconds = Math.max(0, Math.floor((expiresAtMs - Date.now()) / 1000));
  const cookie = `${linkParameter}=${link}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax`;
  // Reached over HTTPS, the cookie never travels in the clear.
  return secure ? `${cookie}; Secure` : cookie;
}

function withoutLinkCookies(cookie: string): string {
  return cookie
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part && !part.startsWith(`${linkParameter}=`))
    .join('; ');
}
