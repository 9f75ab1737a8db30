import { isIP } from 'node:net';
import { createMiddleware } from 'hono/factory';
import { PermissionDeniedError } from '../../errors/mags-error.ts';
import type { ServerEnv } from '../server-env.ts';

/**
 * The MCP transport spec (2025-06-18 and later): a server MUST validate `Origin` and answer 403
 * when it is present and not allowed. A request without `Origin` (every non-browser client)
 * passes; so does one whose Origin names the host it was sent to (a page the server itself
 * serves, whatever the scheme a TLS proxy in front changed) when that Host cannot be a rebound
 * name: an IP address or `localhost`. A DNS-rebinding page sends its own name in both Host and
 * Origin, so a Host that is a name proves nothing; any other origin needs its exact origin in
 * `allowed` (MAGS_MCP_ALLOWED_ORIGINS, comma-separated, e.g. `https://mags.example.com`).
 */
export function checkMcpOrigin(allowed: readonly string[]) {
  const allowedOrigins = new Set(allowed);
  return createMiddleware<ServerEnv>(async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && !allowedOrigins.has(origin) && !isOwnHost(origin, c.req.url)) {
      throw new PermissionDeniedError(
        `Origin ${JSON.stringify(origin)} may not use /mcp: only this server's own origin at an IP address or localhost, and those in MAGS_MCP_ALLOWED_ORIGINS, may.`,
        {
          code: 'origin_not_allowed',
          hint: `Start the server with MAGS_MCP_ALLOWED_ORIGINS=${origin} (comma-separated for several) if this page should reach /mcp; clients outside a browser send no Origin.`,
        },
      );
    }
    await next();
  });
}

/** The origins MAGS_MCP_ALLOWED_ORIGINS lists (comma-separated; none when unset). */
export function mcpAllowedOriginsFrom(environment: NodeJS.ProcessEnv): string[] {
  return (environment.MAGS_MCP_ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim().replace(/\/+$/, ''))
    .filter((origin) => origin !== '');
}

/**
 * The Origin names the Host the request was sent to, and that Host is an IP address or
 * `localhost` (which browsers resolve only to loopback), so no DNS rebinding can have made it.
 */
function isOwnHost(origin: string, requestUrl: string): boolean {
  try {
    const own = new URL(requestUrl);
    return new URL(origin).host === own.host && cannotBeRebound(own.hostname);
  } catch {
    // `null` (a sandboxed frame, a file) and anything else that is no URL.
    return false;
  }
}

function cannotBeRebound(hostname: string): boolean {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  return hostname === 'localhost' || isIP(bare) !== 0;
}
