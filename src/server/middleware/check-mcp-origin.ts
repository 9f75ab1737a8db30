import { createMiddleware } from 'hono/factory';
import { PermissionDeniedError } from '../../errors/mags-error.ts';
import type { ServerEnv } from '../server-env.ts';

/**
 * The MCP transport spec (2025-06-18 and later): a server MUST validate `Origin` and answer 403
 * when it is present and not allowed. A request without `Origin` (every non-browser client) and
 * one whose Origin names this server's own host (a page the server itself serves, whatever the
 * scheme a TLS proxy in front changed) pass; any other needs its exact origin in `allowed`
 * (MAGS_MCP_ALLOWED_ORIGINS, comma-separated, e.g. `http://localhost:6274`).
 */
export function checkMcpOrigin(allowed: readonly string[]) {
  const allowedOrigins = new Set(allowed);
  return createMiddleware<ServerEnv>(async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && !allowedOrigins.has(origin) && !isOwnHost(origin, c.req.url)) {
      throw new PermissionDeniedError(
        `Origin ${JSON.stringify(origin)} may not use /mcp: only this server's own origin and those in MAGS_MCP_ALLOWED_ORIGINS may.`,
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

function isOwnHost(origin: string, requestUrl: string): boolean {
  try {
    return new URL(origin).host === new URL(requestUrl).host;
  } catch {
    // `null` (a sandboxed frame, a file) and anything else that is no URL.
    return false;
  }
}
