/**
 * A `fetch` answered by the app in-process (`app.fetch`), no socket, that honours the request's
 * AbortSignal as a real fetch does: aborted before the answer, the call rejects with the
 * signal's reason; aborted while its body is read, the body fails with it and the app's stream
 * is cancelled, as when an HTTP client goes away. Without that, a route's long-lived answer (a
 * followed log or ticket events) would stay open, counted against its owner, until it next
 * wrote (test/mcp-http-follow-cancel.test.ts).
 */
export function inProcessFetch(app: {
  fetch(request: Request): Response | Promise<Response>;
}): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const signal = request.signal;
    signal.throwIfAborted();
    const answer = Promise.resolve(app.fetch(request));
    const response = await new Promise<Response>((resolve, reject) => {
      const aborted = () => {
        reject(signal.reason);
        // The answer that still comes is nobody's: its stream is cancelled.
        void answer.then((late) => late.body?.cancel(signal.reason)).catch(() => {});
      };
      signal.addEventListener('abort', aborted, { once: true });
      answer.then(resolve, reject).finally(() => signal.removeEventListener('abort', aborted));
    });
    if (!response.body) return response;
    // Piped with the signal: an abort cancels the app's stream and fails the body with the
    // reason; the reader cancelling the body cancels the app's stream too.
    return new Response(response.body.pipeThrough(new TransformStream(), { signal }), response);
  };
}
