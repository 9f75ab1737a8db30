import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';

/** An event a resource stores in order: its `id` increases from 1, `data.type` names it. */
interface StoredEvent {
  id: number;
  data: { type: string };
}

/**
 * Where a client resumes a stream of events: `?after=`, else the `Last-Event-ID` header an
 * EventSource sends when it reconnects, else from the first.
 */
export function resumePoint(c: Context, after: number | undefined): number {
  const lastEventId = Number(c.req.header('last-event-id'));
  return after ?? (Number.isSafeInteger(lastEventId) && lastEventId > 0 ? lastEventId : 0);
}

/**
 * Stored events as Server-Sent Events (tickets', plans'): each named after its `data.type`, its
 * `id` the event's, so a dropped client resumes after the last one it got; a final `end` event
 * carries what `end()` returns (the resource as it ended up), unless the client went away.
 */
export function eventStreamResponse<T extends StoredEvent>(
  c: Context,
  options: {
    events(signal: AbortSignal): AsyncIterable<T>;
    end(): Promise<unknown>;
  },
): Response {
  return streamSSE(c, async (stream) => {
    const gone = new AbortController();
    stream.onAbort(() => gone.abort());
    // Comments keep proxies from closing a quiet stream; they carry no data.
    const keepAlive = setInterval(() => void stream.write(': keep-alive\n\n'), 15_000);
    try {
      for await (const event of options.events(gone.signal)) {
        await stream.writeSSE({
          event: event.data.type,
          id: String(event.id),
          data: JSON.stringify(event),
        });
      }
      if (!gone.signal.aborted) {
        await stream.writeSSE({ event: 'end', data: JSON.stringify(await options.end()) });
      }
    } finally {
      clearInterval(keepAlive);
    }
  });
}
