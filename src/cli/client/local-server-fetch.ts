import { ensureLocalServer, type LocalServerAddress } from './local-server.ts';

/**
 * A fetch for a long-lived client of this host's local server (`mags mcp`). Each local server
 * process listens on a port of its own with a token of its own, so a client that kept the address
 * it found at start would fail every call after a restart (`mags server stop`, a crash, a
 * reboot). This fetch, when the server refuses the connection or the token (401), finds the local
 * server again (starting one, as at start) and retries once with its address and token.
 *
 * Only those two: a refused connection or a 401 means the request was not acted on, so the retry
 * cannot do anything twice. A connection lost mid-request is not retried (the command may have
 * run), nor a streamed body (an upload, a Request's body), which cannot be sent again.
 *
 * `first` is the address the SDK client was made with: its requests go to `first.url` and are
 * redirected here to the current server.
 */
export function localServerFetch(
  home: string,
  first: LocalServerAddress,
  fetch: typeof globalThis.fetch,
): typeof globalThis.fetch {
  let current = first;
  let finding: Promise<LocalServerAddress> | undefined;

  /** The server after `stale` failed; calls failing together share one search. */
  async function renew(stale: LocalServerAddress): Promise<LocalServerAddress> {
    if (current !== stale) return current;
    finding ??= ensureLocalServer(home).finally(() => {
      finding = undefined;
    });
    const found = await finding;
    if (current === stale) current = found;
    return current;
  }

  function send(
    address: LocalServerAddress,
    input: Parameters<typeof fetch>[0],
    init: RequestInit | undefined,
  ): Promise<Response> {
    if (address === first) return fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const moved = url.startsWith(first.url) ? address.url + url.slice(first.url.length) : url;
    // A Request carries its own method, headers and signal (`init`, when given, overrides them,
    // as in fetch): only its URL moves. Its body never gets here twice (not replayable).
    const request = new Request(moved, input instanceof Request ? input : undefined);
    const headers = new Headers(init?.headers ?? request.headers);
    if (headers.has('authorization')) headers.set('authorization', `Bearer ${address.token}`);
    return fetch(request, { ...init, headers });
  }

  return async (input, init) => {
    const used = current;
    // A Request's body is a stream, used by the first send: it cannot be sent again.
    const replayable = !isStream(init?.body ?? (input instanceof Request ? input.body : undefined));
    let response: Response;
    try {
      response = await send(used, input, init);
    } catch (error) {
      if (
        !replayable ||
        (init?.signal ?? requestSignal(input))?.aborted ||
        !connectionRefused(error)
      ) {
        throw error;
      }
      return send(await renew(used), input, init);
    }
    if (response.status !== 401 || !replayable) return response;
    const next = await renew(used);
    if (next.url === used.url && next.token === used.token) return response;
    await response.body?.cancel();
    return send(next, input, init);
  };
}

const requestSignal = (input: Parameters<typeof fetch>[0]) =>
  input instanceof Request ? input.signal : undefined;

function isStream(body: RequestInit['body'] | undefined): boolean {
  return (
    body !== undefined &&
    body !== null &&
    typeof body !== 'string' &&
    !(body instanceof Uint8Array) &&
    !(body instanceof ArrayBuffer) &&
    !(body instanceof Blob) &&
    !(body instanceof URLSearchParams) &&
    !(body instanceof FormData)
  );
}

/** ECONNREFUSED anywhere in the cause chain (fetch wraps it in a TypeError "fetch failed"). */
function connectionRefused(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ECONNREFUSED') return true;
  }
  return false;
}
