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
    return new Response(abortableBody(response.body, signal), response);
  };
}

function abortableBody(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let onAbort: (() => void) | undefined;
  const settle = () => {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      onAbort = () => {
        controller.error(signal.reason);
        void reader.cancel(signal.reason).catch(() => {});
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          settle();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        settle();
        if (!signal.aborted) controller.error(error);
      }
    },
    cancel(reason) {
      settle();
      return reader.cancel(reason);
    },
  });
}
