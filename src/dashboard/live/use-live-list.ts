import { useCallback, useEffect, useState } from 'preact/hooks';

export interface LiveList<Item> {
  /** Undefined until the stream's list arrived. */
  items: Item[] | undefined;
  /** Why the stream ended (after the SDK's reconnections gave up), or undefined. */
  error: unknown;
  /** Applies what a page's own action returned at once (its stream tells the same shortly). */
  apply: (update: (items: Item[]) => Item[]) => void;
}

/**
 * A list kept current by one owner-wide change stream (`jobs.follow`, `sandboxes.follow`):
 * `reduce` folds each change into the list (the stream's list, first and after a reconnection,
 * replaces it). The stream ends when the page goes away; no polling.
 */
export function useLiveList<Item, Change>(
  follow: (signal: AbortSignal) => AsyncIterable<Change>,
  reduce: (items: Item[] | undefined, change: Change) => Item[],
  dependencies: unknown[] = [],
): LiveList<Item> {
  const [state, setState] = useState<{ items?: Item[]; error?: unknown }>({});
  useEffect(() => {
    const controller = new AbortController();
    setState({});
    void (async () => {
      try {
        for await (const change of follow(controller.signal)) {
          setState((previous) => ({ items: reduce(previous.items, change) }));
        }
      } catch (error) {
        if (!controller.signal.aborted) setState((previous) => ({ ...previous, error }));
      }
    })();
    return () => controller.abort();
  }, dependencies);
  const apply = useCallback(
    (update: (items: Item[]) => Item[]) =>
      setState((previous) => ({ ...previous, items: update(previous.items ?? []) })),
    [],
  );
  return { items: state.items, error: state.error, apply };
}

/** `items` with `item` in place of the one with its key, or added by `add` when new. */
export function upsert<Item>(
  items: Item[],
  item: Item,
  key: (item: Item) => string,
  add: (items: Item[], item: Item) => Item[],
): Item[] {
  const wanted = key(item);
  return items.some((each) => key(each) === wanted)
    ? items.map((each) => (key(each) === wanted ? item : each))
    : add(items, item);
}
