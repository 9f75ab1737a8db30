import { environmentWholeNumber } from './environment-whole-number.ts';
import type { McpCallLimits } from './mcp-call-slots.ts';

/**
 * Open MCP sessions one owner may hold at once, unless MAGS_MCP_SESSIONS_PER_OWNER says: as
 * many as its long-lived streams, so dozens of agents of one owner each have their own session;
 * an idle session holds only its server's objects (no connection, no sandbox).
 */
export const defaultMaxMcpSessionsPerOwner = 64;
/** A session with no request for this long is closed, unless MAGS_MCP_IDLE_TIMEOUT_SECONDS says. */
export const defaultMcpIdleTimeoutMs = 30 * 60_000;
/** Requests in flight per session, unless MAGS_MCP_CALLS_PER_SESSION says. */
export const defaultMaxMcpCallsPerSession = 16;
/**
 * Requests in flight per owner over all its sessions, unless MAGS_MCP_CALLS_PER_OWNER says: as
 * many as its sessions and long-lived streams (a running run_command follows one log).
 */
export const defaultMaxMcpCallsPerOwner = 64;
/**
 * The largest POST body: file_write's largest content (1,048,576 characters) is at most 6 bytes
 * a character in JSON (`\u0001`), so the largest valid call always fits; the bounds on bodies
 * being read (mcp-call-slots.ts: two per session, MAGS_MCP_CALLS_PER_OWNER per owner) bound the
 * memory they take.
 */
export const mcpMaxBodyBytes = 8 * 1024 * 1024;
/**
 * At the session cap, a session whose client holds no stream open and has sent nothing for this
 * long is closed for the new one (an SDK client's close() sends no DELETE). A client that sent
 * `notifications/initialized` may be thinking without a GET stream: two minutes.
 */
export const mcpEvictAfterMs = 120_000;
/**
 * The same for a session whose client never sent `notifications/initialized`: the wait covers a
 * client that was just answered its initialize and has not sent the rest of its handshake yet.
 */
export const mcpEvictUninitializedAfterMs = 5_000;

export interface McpSessionLimits extends McpCallLimits {
  maxSessionsPerOwner: number;
  /** A session with no POST in flight and none for this long is closed (its client gets a 404). */
  idleTimeoutMs: number;
  /** The largest JSON-RPC POST body. */
  maxBodyBytes: number;
  /** How long an unused session without stream must have been quiet to be evicted at the cap. */
  evictAfterMs: number;
  /** The same for a session whose client never sent `notifications/initialized`. */
  evictUninitializedAfterMs: number;
}

/** The limits from the MAGS_MCP_* variables, else the defaults. */
export function mcpSessionLimitsFrom(environment: NodeJS.ProcessEnv): McpSessionLimits {
  return {
    maxSessionsPerOwner:
      environmentWholeNumber(environment, 'MAGS_MCP_SESSIONS_PER_OWNER') ??
      defaultMaxMcpSessionsPerOwner,
    idleTimeoutMs:
      (environmentWholeNumber(environment, 'MAGS_MCP_IDLE_TIMEOUT_SECONDS') ??
        defaultMcpIdleTimeoutMs / 1000) * 1000,
    maxCallsPerSession:
      environmentWholeNumber(environment, 'MAGS_MCP_CALLS_PER_SESSION') ??
      defaultMaxMcpCallsPerSession,
    maxCallsPerOwner:
      environmentWholeNumber(environment, 'MAGS_MCP_CALLS_PER_OWNER') ?? defaultMaxMcpCallsPerOwner,
    maxBodyBytes: mcpMaxBodyBytes,
    evictAfterMs: mcpEvictAfterMs,
    evictUninitializedAfterMs: mcpEvictUninitializedAfterMs,
  };
}
