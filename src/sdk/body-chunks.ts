/**
 * A response body's chunks, read with a reader: async iteration of a ReadableStream is missing
 * in some browsers (Safari), and the SDK also runs in the web dashboard. Cancels the body when
 * the consumer stops early.
 */
export async function* bodyChunks(
  body: ReadableStream<Uint8Array> | null,
): AsyncGenerator<Uint8Array> {
  if (!body) return;
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
