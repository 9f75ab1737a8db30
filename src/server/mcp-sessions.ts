import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { MagsError, RateLimitError } from '../errors/mags-error.ts';
import { McpCallSlots, requestIdsOf, type SessionCalls } from './mcp-call-slots.ts';
import type { McpSessionLimits } from './mcp-session-limits.ts';
import { releasedWhenDone } from './released-when-done.ts';

/** One client's MCP session: its own server and transport, bound to the token that opened it. */
export interface McpSession {
  readonly id: string;
  readonly owner: string;
  readonly tokenId: string;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly server: McpServer;
  /** Its JSON-RPC requests in flight (also counted against the owner). */
  readonly calls: SessionCalls;
  /** POSTs whose answer has not ended yet: a running tool call keeps its session alive. */
  inFlight: number;
  /** Its client sent `notifications/initialized`: it is a live client, not an abandoned open. */
  initialized: boolean;
  /** GET streams open: its client is still there even when it sends nothing. */
  streams: number;
  /** When a request last came or an answer last ended (Date.now()). */
  lastUsedMs: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * The open MCP sessions of this server process. A session lives only here, in memory: its
 * server instance holds the tool calls in flight, which is where a cancellation or progress
 * must arrive, so several servers behind a load balancer need it sticky on `Mcp-Session-Id`.
 * Each owner may hold `maxSessionsPerOwner` at once (at the cap, one its client left without
 * DELETE makes room, after `evictAfterMs` of quiet, or `evictUninitializedAfterMs` if it never
 * finished its handshake); an idle one is closed after `idleTimeoutMs`; requests in flight are capped
 * per session and per owner (`calls`); `closeAll` ends them all when the server stops.
 */
export class McpSessions {
  readonly limits: McpSessionLimits;
  readonly calls: McpCallSlots;
  readonly #sessions = new Map<string, McpSession>();
  /** Sessions per owner, counted from before `initialize` is answered (so racing opens count). */
  readonly #perOwner = new Map<string, number>();
  #closed = false;

  constructor(limits: McpSessionLimits) {
    this.limits = limits;
    this.calls = new McpCallSlots(limits);
  }

  /**
   * The server is stopping: set before the sessions close, whose tool calls are then aborted.
   * Their API requests are refused from here (mcp-routes.ts), so an aborted run_command cannot
   * stop a job that a restart leaves running for the next server, whatever the order of the
   * server's shutdown steps (today the jobs are detached first, which also keeps them).
   */
  get closing(): boolean {
    return this.#closed;
  }

  count(owner: string): number {
    return this.#perOwner.get(owner) ?? 0;
  }

  /**
   * A new session for an `initialize` request (`parsedBody`, read while `calls` held a reading
   * slot): its server from `createServer`, answered by its transport. At the cap, the least
   * recently used session left without a stream is closed for it, else a 429. The session is
   * kept only when the transport initialized it (a refused initialize leaves nothing behind).
   */
  async open(
    owner: string,
    tokenId: string,
    createServer: () => McpServer,
    request: Request,
    parsedBody: unknown,
    calls: SessionCalls,
  ): Promise<Response> {
    if (this.#closed) throw serverStopping();
    if (this.count(owner) >= this.limits.maxSessionsPerOwner) await this.#evictOne(owner);
    if (this.#closed) throw serverStopping();
    const open = this.count(owner);
    if (open >= this.limits.maxSessionsPerOwner) {
      throw new RateLimitError(
        `Owner ${JSON.stringify(owner)} already has ${open} MCP sessions open on this server, the most one owner may, and none is free to close (each has a stream open, a request in flight, or was used in the last ${Math.round(this.limits.evictAfterMs / 1000)} s, ${Math.round(this.limits.evictUninitializedAfterMs / 1000)} s for one that never sent notifications/initialized).`,
        {
          code: 'owner_limit_reached',
          limit: 'mcp_sessions',
          limitValue: this.limits.maxSessionsPerOwner,
          retryAfterSeconds: 30,
          hint: `End sessions you no longer use with DELETE /mcp (the SDK's transport.terminateSession(); a plain client close() sends none, and such a session is closed only when room is needed); an idle session ends by itself after ${Math.round(this.limits.idleTimeoutMs / 1000)} s. MAGS_MCP_SESSIONS_PER_OWNER sets the limit.`,
        },
      );
    }
    const { requests } = requestIdsOf(parsedBody);
    this.calls.start(owner, calls, requests);
    this.#perOwner.set(owner, open + 1);
    let session: McpSession | undefined;
    let server: McpServer | undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.calls.endAll(owner, calls);
      if (session) {
        clearTimeout(session.idleTimer);
        this.#sessions.delete(session.id);
      }
      const left = this.count(owner) - 1;
      if (left > 0) this.#perOwner.set(owner, left);
      else this.#perOwner.delete(owner);
    };
    try {
      server = createServer();
      const own = server;
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        maxRequestBodySize: this.limits.maxBodyBytes,
        onsessioninitialized: (id) => {
          session = {
            id,
            owner,
            tokenId,
            transport,
            server: own,
            calls,
            initialized: false,
            inFlight: 0,
            streams: 0,
            lastUsedMs: Date.now(),
            idleTimer: undefined,
          };
          this.#sessions.set(id, session);
          // closeAll() ran while this initialize was read: it could not see this session.
          if (this.#closed) void own.close();
        },
      });
      endCallsOnAnswer(transport, (id) => this.calls.end(owner, calls, id));
      // Called on DELETE /mcp, an idle timeout, an eviction, closeAll, or the transport failing.
      transport.onclose = release;
      await server.connect(transport);
      const response = await this.#answer(
        () => session,
        () => transport.handleRequest(request, { parsedBody }),
      );
      if (response.status !== 200) for (const id of requests) this.calls.end(owner, calls, id);
      if (!session) await server.close();
      return response;
    } catch (error) {
      await server?.close().catch(() => {});
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
   * A POST of the session (`parsedBody`, read while `session.calls` held a reading slot): its
   * requests count from here until answered, or a 429/400 (mcp-call-slots.ts); its
   * notifications and responses never count, so a cancellation passes at the cap. The POST
   * keeps the session busy until its answer ends.
   */
  async post(session: McpSession, request: Request, parsedBody: unknown): Promise<Response> {
    const { owner, calls } = session;
    const { requests, cancelled, initialized } = requestIdsOf(parsedBody);
    if (initialized) session.initialized = true;
    // The SDK drops the answer of a cancelled request: nothing else would end its count.
    for (const id of cancelled) this.calls.end(owner, calls, id);
    this.calls.start(owner, calls, requests);
    let response: Response;
    try {
      response = await this.#answer(
        () => session,
        () => session.transport.handleRequest(request, { parsedBody }),
      );
    } catch (error) {
      for (const id of requests) this.calls.end(owner, calls, id);
      throw error;
    }
    // Refused by the transport (headers, protocol version, closed): none of them will run.
    if (response.status !== 200) for (const id of requests) this.calls.end(owner, calls, id);
    return response;
  }

  /**
   * A GET (the client's standing stream) or DELETE. The stream does not keep the session busy
   * (or no session would idle), but while it is open the session is not evicted at the cap.
   */
  async handle(session: McpSession, request: Request): Promise<Response> {
    session.lastUsedMs = Date.now();
    const response = await session.transport.handleRequest(request);
    if (request.method !== 'GET' || response.status !== 200 || !response.body) return response;
    session.streams++;
    return new Response(
      releasedWhenDone(response.body, () => {
        session.streams--;
        session.lastUsedMs = Date.now();
      }),
      response,
    );
  }

  /** Closes every session (the server stops): their tool calls are aborted. */
  async closeAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#sessions.values()].map((session) => session.server.close()));
  }

  /** Closes the owner's least recently used session that no client holds; false if none. */
  async #evictOne(owner: string): Promise<boolean> {
    const now = Date.now();
    let oldest: McpSession | undefined;
    for (const session of this.#sessions.values()) {
      if (session.owner !== owner || session.inFlight > 0 || session.streams > 0) continue;
      if (session.calls.size > 0 || session.calls.reading > 0) continue;
      // A client that finished its handshake may think for a while between calls, without a
      // GET stream; one that never did is most likely a client that left right after opening.
      const quietMs = session.initialized
        ? this.limits.evictAfterMs
        : this.limits.evictUninitializedAfterMs;
      if (session.lastUsedMs > now - quietMs) continue;
      if (!oldest || session.lastUsedMs < oldest.lastUsedMs) oldest = session;
    }
    if (!oldest) return false;
    await oldest.server.close();
    return true;
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
      releasedWhenDone(response.body, () => this.#done(session)),
      response,
    );
  }

  #busy(session: McpSession): void {
    session.inFlight++;
    session.lastUsedMs = Date.now();
    clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
  }

  #done(session: McpSession): void {
    session.inFlight--;
    session.lastUsedMs = Date.now();
    if (session.inFlight > 0 || !this.#sessions.has(session.id)) return;
    session.idleTimer = setTimeout(() => {
      void session.server.close();
    }, this.limits.idleTimeoutMs);
    // An idle session never keeps the process alive.
    session.idleTimer.unref();
  }
}

/**
 * The server is stopping: it opens no session, and a closing session's tools reach no API (its
 * jobs and sandboxes were already stopped or left running for the next server).
 */
export function serverStopping(): MagsError {
  return new MagsError(
    'The server is stopping: it opens no MCP session, and its sessions are closed.',
    {
      code: 'server_stopping',
      statusCode: 503,
      retryable: true,
      hint: 'Connect again once the server is back (or to another server of the cluster): the job ids you have stay valid.',
    },
  );
}

/**
 * Calls `ended` with a request's id once the session's server has sent (or failed to send) its
 * answer: that is when a tool call stops counting as in flight, even when its client went away.
 */
function endCallsOnAnswer(
  transport: WebStandardStreamableHTTPServerTransport,
  ended: (id: string | number) => void,
): void {
  const send = transport.send.bind(transport);
  transport.send = async (message: JSONRPCMessage, options) => {
    try {
      await send(message, options);
    } finally {
      if (('result' in message || 'error' in message) && message.id !== undefined) {
        ended(message.id);
      }
    }
  };
}
