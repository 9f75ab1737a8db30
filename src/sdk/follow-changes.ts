import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { bodyChunks } from './body-chunks.ts';
import type { LogRequest } from './log-stream.ts';

export interface FollowChangesOptions {
  signal?: AbortSignal;
  /** Reconnections in a row after a dropped stream before giving up (default 10). */
  maxReconnects?: number;
}

/**
 * An owner-wide change stream (`GET /v1/tickets|jobs|sandboxes|plans|workspaces?follow=true`,
 * `/v1/pool/events`) followed until
 * `signal` aborts: `parse` turns each Server-Sent Event into what the caller yields (undefined:
 * skipped). A dropped connection is opened again, and the list that comes first then replaces
 * what the caller holds; API errors (404, 401) and the caller's abort end it.
 */
export async function* followChanges<Change>(
  request: LogRequest,
  path: string,
  parse: (event: string | undefined, data: unknown) => Change | undefined,
  options: FollowChangesOptions = {},
): AsyncGenerator<Change> {
  let failures = 0;
  for (;;) {
    const received: Change[] = [];
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        const change = parse(message.event, JSON.parse(message.data));
        if (change !== undefined) received.push(change);
      },
    });
    try {
      const response = await request(path, options.signal);
      const decoder = new TextDecoder();
      for await (const chunk of bodyChunks(response.body)) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        failures = 0;
        yield* received.splice(0);
      }
      throw new Error('the change stream ended');
    } catch (error) {
      if (options.signal?.aborted || (error as { statusCode?: number }).statusCode) throw error;
      if (++failures > (options.maxReconnects ?? 10)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, 2000)));
  }
}
