/**
 * A response body's chunks. A standard ReadableStream is read with a reader: async iteration of
 * one is missing in some browsers (Safari), and the SDK also runs in the web dashboard. A body
 * that is only an async iterable (the CLI's node:http fetch, `http-fetch.ts`) is iterated as it
 * is. Either way the body is released when the consumer stops early.
 */
export async function* bodyChunks(
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null,
): AsyncGenerator<Uint8Array> {
  if (!body) return;
  if (!('getReader' in body)) {
    yield* body;
    return;
  }
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
