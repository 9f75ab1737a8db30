import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { PoolSample } from '../api/pool-events.ts';
import { bodyChunks } from './body-chunks.ts';
import type { LogRequest } from './log-stream.ts';

export interface PoolEventsOptions {
  signal?: AbortSignal;
  /** Reconnections after a dropped stream before giving up (default 10). */
  maxReconnects?: number;
}

/**
 * The figures of `/v1/pool` as they change, from `GET /v1/pool/events` (Server-Sent Events):
 * the first sample at once, then one when something changed (at least every few seconds).
 * Runs until the caller stops iterating or aborts; a dropped connection is reopened.
 */
export async function* followPoolEvents(
  request: LogRequest,
  options: PoolEventsOptions = {},
): AsyncGenerator<PoolSample> {
  let failures = 0;
  for (;;) {
    const received: PoolSample[] = [];
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        if (message.event === 'sample') received.push(JSON.parse(message.data) as PoolSample);
      },
    });
    try {
      const response = await request('/v1/pool/events', options.signal);
      const decoder = new TextDecoder();
      for await (const chunk of bodyChunks(response.body)) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        failures = 0;
        yield* received.splice(0);
      }
      throw new Error('the pool event stream ended');
    } catch (error) {
      // API errors (401) and a caller's abort end it; a dropped connection is retried.
      if (options.signal?.aborted || (error as { statusCode?: number }).statusCode) throw error;
      if (++failures > (options.maxReconnects ?? 10)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, 2000)));
  }
}
