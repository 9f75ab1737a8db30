import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { UrlAccess } from '../urls/url-access.ts';
import { linkParameter } from '../urls/url-addresses.ts';

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
    if (value === undefined || hopByHop.has(name)) continue;
    if (name === 'authorization' && access.via === 'token') continue;
    if (name === 'cookie') {
      const kept = withoutLinkCookies(Array.isArray(value) ? value.join('; ') : value);
      if (kept) headers.cookie = kept;
      continue;
    }
    headers[name] = value;
  }
  if (options.upgrade) {
    headers.connection = 'Upgrade';
    if (request.headers.upgrade) headers.upgrade = request.headers.upgrade;
  }
  const client = request.socket.remoteAddress ?? '';
  const before = request.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = before ? `${before}, ${client}` : client;
  if (request.headers.host) headers['x-forwarded-host'] = request.headers.host;
  // This server speaks plain HTTP; a TLS front end in front of it says so itself.
  headers['x-forwarded-proto'] = request.headers['x-forwarded-proto'] ?? 'http';
  return headers;
}

/** The sandbox's answer's headers, less those of its hop (this server frames its own answer). */
export function answerHeaders(answer: IncomingMessage): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (!hopByHop.has(name)) headers[name] = value;
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
export function linkCookie(link: string, expiresAtMs: number, path: string): string {
  const maxAgeSeconds = Math.max(0, Math.floor((expiresAtMs - Date.now()) / 1000));
  return `${linkParameter}=${link}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax`;
}

function withoutLinkCookies(cookie: string): string {
  return cookie
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part && !part.startsWith(`${linkParameter}=`))
    .join('; ');
}
