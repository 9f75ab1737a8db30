import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { InvalidInputError, RateLimitError } from '../errors/mags-error.ts';

/** Open MCP sessions one owner may hold at once, unless MAGS_MCP_SESSIONS_PER_OWNER says. */
export const defaultMaxMcpSessionsPerOwner = 16;
/** A session with no request for this long is closed, unless MAGS_MCP_IDLE_TIMEOUT_SECONDS says. */
export const defaultMcpIdleTimeoutMs = 30 * 60_000;

export interface McpSessionLimits {
  maxSessionsPerOwner: number;
  /** A session with no POST in flight and none for this long is closed (its client gets a 404). */
  idleTimeoutMs: number;
  /** The largest JSON-RPC POST body, like the REST API's JSON bodies. */
  maxBodyBytes: number;
}

/** The limits from MAGS_MCP_SESSIONS_PER_OWNER and MAGS_MCP_IDLE_TIMEOUT_SECONDS, else defaults. */
export function mcpSessionLimitsFrom(
  environment: NodeJS.ProcessEnv,
  maxBodyBytes: number,
): McpSessionLimits {
  return {
    maxSessionsPerOwner:
      wholeNumber(environment, 'MAGS_MCP_SESSIONS_PER_OWNER') ?? defaultMaxMcpSessionsPerOwner,
    idleTimeoutMs:
      (wholeNumber(environment, 'MAGS_MCP_IDLE_TIMEOUT_SECONDS') ??
        defaultMcpIdleTimeoutMs / 1000) * 1000,
    maxBodyBytes,
  };
}

function wholeNumber(environment: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = environment[name];
  if (value === undefined || value === '') return undefined;
  const count = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(count) || count < 1) {
    throw new InvalidInputError(
      `Invalid ${name} ${JSON.stringify(value)}: expected a whole number, at least 1.`,
    );
  }
  return count;
}

/** One client's MCP session: its own server and transport, bound to the token that opened it. */
export interface McpSession {
  readonly id: string;
  readonly owner: string;
  readonly tokenId: string;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly server: McpServer;
  /** POSTs whose answer has not ended yet: a running tool call keeps its session alive. */
  inFlight: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * The open MCP sessions of this server process. A session lives only here, in memory: its
 * server instance holds the tool calls in flight, which is where a cancellation or progress
 * must arrive, so several servers behind a load balancer need it sticky on `Mcp-Session-Id`.
 * Each owner may hold `maxSessionsPerOwner` at once; an idle one is closed after
 * `idleTimeoutMs`; `closeAll` ends them all when the server stops.
 */
export class McpSessions {
  readonly limits: McpSessionLimits;
  readonly #sessions = new Map<string, McpSession>();
  /** Sessions per owner, counted from before `initialize` is answered (so racing opens count). */
  readonly #perOwner = new Map<string, number>();
  #closed = false;

  constructor(limits: McpSessionLimits) {
    this.limits = limits;
  }

  count(owner: string): number {
    return this.#perOwner.get(owner) ?? 0;
  }

  /**
   * A new session for an `initialize` request: its server from `createServer`, answered by its
   * transport. A 429 when `owner` holds the most already. The session is kept only when the
   * transport initialized it (a refused initialize leaves nothing behind).
   */
  async open(
    owner: string,
    tokenId: string,
    createServer: () => McpServer,
    request: Request,
    parsedBody: unknown,
  ): Promise<Response> {
    const open = this.count(owner);
    if (this.#closed || open >= this.limits.maxSessionsPerOwner) {
      throw new RateLimitError(
        `Owner ${JSON.stringify(owner)} already has ${open} MCP sessions open on this server, the most one owner may.`,
        {
          code: 'owner_limit_reached',
          limit: 'mcp_sessions',
          limitValue: this.limits.maxSessionsPerOwner,
          retryAfterSeconds: 30,
          hint: `End sessions you no longer use (an MCP client's close sends DELETE /mcp); an idle session ends by itself after ${Math.round(this.limits.idleTimeoutMs / 1000)} s. MAGS_MCP_SESSIONS_PER_OWNER sets the limit.`,
        },
      );
    }
    this.#perOwner.set(owner, open + 1);
    let session: McpSession | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: this.limits.maxBodyBytes,
      onsessioninitialized: (id) => {
        session = { id, owner, tokenId, transport, server, inFlight: 0, idleTimer: undefined };
        this.#sessions.set(id, session);
      },
    });
    const server = createServer();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (session) {
        clearTimeout(session.idleTimer);
        this.#sessions.delete(session.id);
      }
      const left = this.count(owner) - 1;
      if (left > 0) this.#perOwner.set(owner, left);
      else this.#perOwner.delete(owner);
    };
    // Called on DELETE /mcp, an idle timeout, closeAll, or the transport failing.
    transport.onclose = release;
    try {
      await server.connect(transport);
      const response = await this.#answer(
        () => session,
        () => transport.handleRequest(request, { parsedBody }),
      );
      if (!session) await server.close();
      return response;
    } catch (error) {
      await server.close().catch(() => {});
      release();
      throw error;
    }
  }

  /**
   * The session with this id if `owner` opened it with this token, else undefined: another
   * owner's id is exactly as unknown as one that never existed.
   */
  find(sessionId: string, owner: string, tokenId: string): McpSession | undefined {
    const session = this.#sessions.get(sessionId);
    return session && session.owner === owner && session.tokenId === tokenId ? session : undefined;
  }

  /**
   * The session's transport answers the request. A POST (a tool call) keeps the session busy
   * until its answer ends; the client's standing GET stream does not, or no session would idle.
   */
  handle(session: McpSession, request: Request): Promise<Response> {
    if (request.method !== 'POST') return session.transport.handleRequest(request);
    return this.#answer(
      () => session,
      () => session.transport.handleRequest(request),
    );
  }

  /** Closes every session (the server stops): their tool calls are aborted. */
  async closeAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#sessions.values()].map((session) => session.server.close()));
  }

  async #answer(
    sessionOf: () => McpSession | undefined,
    handle: () => Promise<Response>,
  ): Promise<Response> {
    const before = sessionOf();
    if (before) this.#busy(before);
    let response: Response;
    try {
      response = await handle();
    } catch (error) {
      if (before) this.#done(before);
      throw error;
    }
    // An initialize made the session during handle(): it is busy from here until its answer ends.
    const session = sessionOf();
    if (!session) return response;
    if (!before) this.#busy(session);
    if (!response.body) {
      this.#done(session);
      return response;
    }
    return new Response(
      whenEnded(response.body, () => this.#done(session)),
      response,
    );
  }

  #busy(session: McpSession): void {
    session.inFlight++;
    clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
  }

  #done(session: McpSession): void {
    session.inFlight--;
    if (session.inFlight > 0 || !this.#sessions.has(session.id)) return;
    session.idleTimer = setTimeout(() => {
      void session.server.close();
    }, this.limits.idleTimeoutMs);
    // An idle session never keeps the process alive.
    session.idleTimer.unref();
  }
}

/** The body as it was, calling `ended` once when it has been read to its end, failed or cancelled. */
function whenEnded(
  body: ReadableStream<Uint8Array>,
  ended: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let called = false;
  const end = () => {
    if (called) return;
    called = true;
    ended();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
}
