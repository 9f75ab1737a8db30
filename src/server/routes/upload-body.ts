import { Readable } from 'node:stream';
import type { Context } from 'hono';

/**
 * A request's body as one iterator, stepped by hand (a refused upload's rest can still be read
 * from it afterwards), and the length the client declared, if any.
 */
export function uploadBody(c: Context): {
  chunks: AsyncIterator<Buffer>;
  declaredBytes: number | undefined;
} {
  const body = c.req.raw.body;
  const chunks = (body ? Readable.fromWeb(body as never) : Readable.from([]))[
    Symbol.asyncIterator
  ]() as AsyncIterator<Buffer>;
  const declared = Number(c.req.header('content-length') ?? Number.NaN);
  return { chunks, declaredBytes: Number.isNaN(declared) ? undefined : declared };
}

/**
 * Reads and drops the rest of a refused upload (up to `maxBytes` more), so the client, still
 * sending, gets to read the answer instead of a reset connection; a larger one is cut off.
 */
export async function discardBody(chunks: AsyncIterator<Buffer>, maxBytes: number): Promise<void> {
  let dropped = 0;
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
    dropped += next.value.length;
    if (dropped > maxBytes) break;
  }
}
