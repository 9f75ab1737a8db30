import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';

/** What one owner-wide change stream is made of (tickets, jobs, sandboxes). */
export interface ChangeStreamSource {
  /**
   * Subscribes to changes; `changed(key)` says that the owner's item `key` changed (the
   * subscription drops other owners' changes before they cost a read). Returns the unsubscribe.
   */
  subscribe(changed: (key: string) => void): () => void;
  /** The first event's data: the list as the non-following GET answers it. */
  list(): Promise<unknown>;
  /** The item's snapshot now; undefined: not to be sent (filtered out, or gone). */
  snapshot(key: string): Promise<unknown>;
  /** The first event's name (`tickets`) and each snapshot's (`ticket`). */
  listEvent: string;
  itemEvent: string;
  /** Waited for before each batch of snapshots is read (a record written just after its event). */
  settle?: () => Promise<void>;
}

/**
 * A list followed live as Server-Sent Events: first the list, then a snapshot of each item as it
 * changes, until the client goes away. Snapshots, not deltas: changes close together may come
 * as one (the item as it is then), and a client that reconnects gets the whole list again and
 * misses nothing. The subscription is made before the list is read, so a change while it is
 * read is sent after it, not missed; the list's errors (an unknown filter's 404) come before
 * any stream.
 */
export async function changeStreamResponse(
  c: Context,
  source: ChangeStreamSource,
): Promise<Response> {
  const changed = new Set<string>();
  let wake: (() => void) | undefined;
  const unsubscribe = source.subscribe((key) => {
    changed.add(key);
    wake?.();
  });
  let initial: unknown;
  try {
    initial = await source.list();
  } catch (error) {
    unsubscribe();
    throw error;
  }
  return streamSSE(c, async (stream) => {
    const gone = new AbortController();
    stream.onAbort(() => {
      gone.abort();
      wake?.();
    });
    // Comments keep proxies from closing a quiet stream; they carry no data.
    const keepAlive = setInterval(() => void stream.write(': keep-alive\n\n'), 15_000);
    try {
      await stream.writeSSE({ event: source.listEvent, data: JSON.stringify(initial) });
      while (!gone.signal.aborted) {
        if (changed.size === 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        await source.settle?.();
        const keys = [...changed];
        changed.clear();
        for (const key of keys) {
          const snapshot = await source.snapshot(key);
          if (snapshot === undefined) continue;
          await stream.writeSSE({ event: source.itemEvent, data: JSON.stringify(snapshot) });
        }
      }
    } finally {
      clearInterval(keepAlive);
      unsubscribe();
    }
  });
}
