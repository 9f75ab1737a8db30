import { InvalidInputError, RateLimitError } from '../errors/mags-error.ts';

/** A JSON-RPC request id: the key the SDK keeps a request's abort controller under. */
export type JsonRpcId = string | number;

/** What one session has in flight: request ids being answered, and POST bodies being read. */
export class SessionCalls {
  readonly ids = new Set<JsonRpcId>();
  reading = 0;

  /** Its requests in flight (bodies being read are bounded apart: see `McpCallSlots.reserve`). */
  get size(): number {
    return this.ids.size;
  }
}

/**
 * POST bodies one session may have being read at once: a client sends one message at a time,
 * and one more lets a cancellation or an answer through while a large call is still arriving.
 */
export const maxBodiesReadingPerSession = 2;

export interface McpCallLimits {
  /** Requests one session may have in flight at once (each request of a batch counts). */
  maxCallsPerSession: number;
  /** Requests all of one owner's sessions may have in flight at once; as many bodies being read. */
  maxCallsPerOwner: number;
}

/**
 * The MCP requests in flight on this server, per session and per owner: a request counts from
 * its parsed POST until its answer is sent, it is cancelled, or its session closes; one over a
 * limit is a 429 before it runs. Notifications and responses (a cancellation, an answer to the
 * server's own request) never count, so a session at its cap can still cancel. Bodies being
 * read are bounded apart (per session and per owner), so the bodies in memory are bounded too.
 */
export class McpCallSlots {
  readonly limits: McpCallLimits;
  readonly #perOwner = new Map<string, number>();
  readonly #readingPerOwner = new Map<string, number>();

  constructor(limits: McpCallLimits) {
    this.limits = limits;
  }

  /** Requests `owner` has in flight. */
  count(owner: string): number {
    return this.#perOwner.get(owner) ?? 0;
  }

  /** POST bodies of `owner` being read. */
  reading(owner: string): number {
    return this.#readingPerOwner.get(owner) ?? 0;
  }

  /** Room for one POST's body to be read, or a 429; the returned function gives it back once. */
  reserve(owner: string, calls: SessionCalls): () => void {
    const { maxCallsPerOwner } = this.limits;
    if (calls.reading >= maxBodiesReadingPerSession || this.reading(owner) >= maxCallsPerOwner) {
      const perSession = calls.reading >= maxBodiesReadingPerSession;
      throw new RateLimitError(
        perSession
          ? `This MCP session already has ${calls.reading} POST bodies still arriving, the most one session may (${maxBodiesReadingPerSession}).`
          : `Owner ${JSON.stringify(owner)} already has ${this.reading(owner)} MCP POST bodies still arriving on this server, the most one owner may (${maxCallsPerOwner}).`,
        {
          code: perSession ? 'session_limit_reached' : 'owner_limit_reached',
          limit: 'mcp_bodies_reading',
          limitValue: perSession ? maxBodiesReadingPerSession : maxCallsPerOwner,
          retryAfterSeconds: 1,
          hint: 'Send the next message once the earlier ones have been sent whole.',
        },
      );
    }
    calls.reading++;
    setCount(this.#readingPerOwner, owner, 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      calls.reading--;
      setCount(this.#readingPerOwner, owner, -1);
    };
  }

  /**
   * The requests of a parsed POST start: a 429 if they do not fit, a 400 if an id is already in
   * flight in this session or repeats in the batch (the SDK keeps one abort controller per id, so
   * the first call could no longer be cancelled or stopped).
   */
  start(owner: string, calls: SessionCalls, ids: readonly JsonRpcId[]): void {
    const seen = new Set<JsonRpcId>();
    for (const id of ids) {
      if (calls.ids.has(id) || seen.has(id)) {
        throw new InvalidInputError(
          `Request id ${JSON.stringify(id)} is already in flight in this MCP session.`,
          {
            code: 'request_id_in_flight',
            hint: 'Give every request a new id while an earlier one with the same id is unanswered (cancel that one with notifications/cancelled first if you mean to replace it).',
          },
        );
      }
      seen.add(id);
    }
    this.#check(owner, calls, ids.length);
    for (const id of ids) calls.ids.add(id);
    setCount(this.#perOwner, owner, ids.length);
  }

  /** The request with this id was answered or cancelled (nothing if it was not in flight). */
  end(owner: string, calls: SessionCalls, id: JsonRpcId): void {
    if (!calls.ids.delete(id)) return;
    setCount(this.#perOwner, owner, -1);
  }

  /** The session closed: none of its requests is answered any more. */
  endAll(owner: string, calls: SessionCalls): void {
    setCount(this.#perOwner, owner, -calls.ids.size);
    calls.ids.clear();
  }

  #check(owner: string, calls: SessionCalls, more: number): void {
    const { maxCallsPerSession, maxCallsPerOwner } = this.limits;
    if (calls.size + more > maxCallsPerSession) {
      throw new RateLimitError(
        `This MCP session already has ${calls.size} requests in flight, the most one session may have (${maxCallsPerSession}).`,
        {
          code: 'session_limit_reached',
          limit: 'mcp_calls_per_session',
          limitValue: maxCallsPerSession,
          retryAfterSeconds: 1,
          hint: `Wait for a tool call of this session to finish (or cancel one) before starting another; send requests one per POST rather than in large batches. MAGS_MCP_CALLS_PER_SESSION sets the limit.`,
        },
      );
    }
    const owned = this.count(owner);
    if (owned + more > maxCallsPerOwner) {
      throw new RateLimitError(
        `Owner ${JSON.stringify(owner)} already has ${owned} MCP requests in flight on this server, the most one owner may have (${maxCallsPerOwner}).`,
        {
          code: 'owner_limit_reached',
          limit: 'mcp_calls',
          limitValue: maxCallsPerOwner,
          retryAfterSeconds: 5,
          hint: `Wait for some of your running tool calls (in any of your MCP sessions) to finish, or cancel those you no longer need, then call again. MAGS_MCP_CALLS_PER_OWNER sets the limit.`,
        },
      );
    }
  }
}

function setCount(counts: Map<string, number>, owner: string, delta: number): void {
  const total = (counts.get(owner) ?? 0) + delta;
  if (total > 0) counts.set(owner, total);
  else counts.delete(owner);
}

/**
 * The ids of the requests in a JSON-RPC message or batch (notifications and responses have none),
 * the ids its `notifications/cancelled` name, and whether it holds `notifications/initialized`.
 */
export function requestIdsOf(message: unknown): {
  requests: JsonRpcId[];
  cancelled: JsonRpcId[];
  initialized: boolean;
} {
  const requests: JsonRpcId[] = [];
  const cancelled: JsonRpcId[] = [];
  let initialized = false;
  for (const one of Array.isArray(message) ? message : [message]) {
    if (typeof one !== 'object' || one === null) continue;
    const { id, method, params } = one as { id?: unknown; method?: unknown; params?: unknown };
    if (typeof method !== 'string') continue;
    if (isId(id)) requests.push(id);
    else if (method === 'notifications/initialized') initialized = true;
    else if (method === 'notifications/cancelled' && typeof params === 'object' && params) {
      const requestId = (params as { requestId?: unknown }).requestId;
      if (isId(requestId)) cancelled.push(requestId);
    }
  }
  return { requests, cancelled, initialized };
}

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}
