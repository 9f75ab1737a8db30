import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { bodyChunks } from './body-chunks.ts';
import type { LogRequest } from './log-stream.ts';

export interface StoredEventsOptions {
  /** Events after this id (0: from the first). */
  after?: number;
  /** Keep streaming until the resource stops moving (default false). */
  follow?: boolean;
  signal?: AbortSignal;
  /** Reconnections after a dropped stream before giving up (default 10). */
  maxReconnects?: number;
}

/**
 * A resource's stored events (a ticket's, a plan's) from its Server-Sent Events route, each
 * exactly once and in order: a dropped connection is resumed after the last event received.
 * `path(after)` is the route with its query; the stream's final `end` event ends it.
 */
export async function* followStoredEvents<T extends { id: number }>(
  request: LogRequest,
  path: (after: number) => string,
  what: string,
  options: StoredEventsOptions = {},
): AsyncGenerator<T> {
  let after = options.after ?? 0;
  let failures = 0;
  for (;;) {
    const received: T[] = [];
    let ended = false;
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        if (message.event === 'end') ended = true;
        else if (message.id !== undefined) received.push(JSON.parse(message.data) as T);
      },
    });
    try {
      const response = await request(path(after), options.signal);
      const decoder = new TextDecoder();
      for await (const chunk of bodyChunks(response.body)) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        failures = 0;
        for (const event of received.splice(0)) {
          if (event.id <= after) continue;
          after = event.id;
          yield event;
        }
      }
      if (ended) return;
      throw new Error(`the event stream ended before the ${what} did`);
    } catch (error) {
      // API errors (404, 401) and a caller's abort end it; a dropped connection is retried.
      if (options.signal?.aborted || (error as { statusCode?: number }).statusCode) throw error;
      if (++failures > (options.maxReconnects ?? 10)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, 2000)));
  }
}
