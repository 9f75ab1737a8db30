import { InvalidInputError, RateLimitError } from '../errors/mags-error.ts';

/** A JSON-RPC request id: the key the SDK keeps a request's abort controller under. */
export type JsonRpcId = string | number;

/** What one session has in flight: request ids being answered, and POST bodies being read. */
export class SessionCalls {
  readonly ids = new Set<JsonRpcId>();
  reading = 0;

  get size(): number {
    return this.ids.size + this.reading;
  }
}

export interface McpCallLimits {
  /** Requests one session may have in flight at once (each request of a batch counts). */
  maxCallsPerSession: number;
  /** Requests all of one owner's sessions may have in flight at once. */
  maxCallsPerOwner: number;
}

/**
 * The MCP requests in flight on this server, per session and per owner. A request counts from
 * before its POST's body is read (so bodies in memory are bounded too) until its answer is sent,
 * it is cancelled, or its session closes; one over a limit is a 429 before its body is read.
 */
export class McpCallSlots {
  readonly limits: McpCallLimits;
  readonly #perOwner = new Map<string, number>();

  constructor(limits: McpCallLimits) {
    this.limits = limits;
  }

  count(owner: string): number {
    return this.#perOwner.get(owner) ?? 0;
  }

  /** Room for one POST's body to be read, or a 429; the returned function gives it back once. */
  reserve(owner: string, calls: SessionCalls): () => void {
    this.#check(owner, calls, 1);
    calls.reading++;
    this.#add(owner, 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      calls.reading--;
      this.#add(owner, -1);
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
    this.#add(owner, ids.length);
  }

  /** The request with this id was answered or cancelled (nothing if it was not in flight). */
  end(owner: string, calls: SessionCalls, id: JsonRpcId): void {
    if (!calls.ids.delete(id)) return;
    this.#add(owner, -1);
  }

  /** The session closed: none of its requests is answered any more. */
  endAll(owner: string, calls: SessionCalls): void {
    this.#add(owner, -calls.ids.size);
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

  #add(owner: string, delta: number): void {
    const total = this.count(owner) + delta;
    if (total > 0) this.#perOwner.set(owner, total);
    else this.#perOwner.delete(owner);
  }
}

/**
 * The ids of the requests in a JSON-RPC message or batch (notifications and responses have none),
 * and the ids its `notifications/cancelled` name.
 */
export function requestIdsOf(message: unknown): {
  requests: JsonRpcId[];
  cancelled: JsonRpcId[];
} {
  const requests: JsonRpcId[] = [];
  const cancelled: JsonRpcId[] = [];
  for (const one of Array.isArray(message) ? message : [message]) {
    if (typeof one !== 'object' || one === null) continue;
    const { id, method, params } = one as { id?: unknown; method?: unknown; params?: unknown };
    if (typeof method !== 'string') continue;
    if (isId(id)) requests.push(id);
    else if (method === 'notifications/cancelled' && typeof params === 'object' && params) {
      const requestId = (params as { requestId?: unknown }).requestId;
      if (isId(requestId)) cancelled.push(requestId);
    }
  }
  return { requests, cancelled };
}

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}
