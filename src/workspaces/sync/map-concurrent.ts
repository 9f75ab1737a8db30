/**
 * Runs `work` over `items` with at most `limit` in flight; the first failure rejects, and no
 * worker starts another item after it (nor after `stop.stopped` is set: a shared flag lets
 * concurrent maps stop together), so a failed restore does not go on downloading.
 */
export async function mapConcurrent<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
  stop: { stopped: boolean } = { stopped: false },
): Promise<void> {
  let next = 0;
  const worker = async () => {
    try {
      while (next < items.length && !stop.stopped) await work(items[next++] as T);
    } catch (error) {
      stop.stopped = true;
      throw error;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
