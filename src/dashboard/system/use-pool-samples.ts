import { useEffect, useState } from 'preact/hooks';
import type { PoolSample } from '../../api/pool-events.ts';
import { useMags } from '../client-context.ts';

/** The samples kept for the charts: the last ten minutes (the server sends one every ≤ 5 s). */
export const chartWindowMs = 10 * 60_000;

/**
 * The pool's figures as the server streams them (`GET /v1/pool/events`): no polling; the
 * stream ends when the page goes away.
 */
export function usePoolSamples(): { samples: PoolSample[]; error: unknown } {
  const mags = useMags();
  const [samples, setSamples] = useState<PoolSample[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    void (async () => {
      try {
        for await (const sample of mags.poolEvents({ signal: controller.signal })) {
          setError(undefined);
          setSamples((previous) => {
            const oldest = Date.parse(sample.at) - chartWindowMs;
            return [...previous.filter((item) => Date.parse(item.at) >= oldest), sample];
          });
        }
      } catch (caught) {
        if (!controller.signal.aborted) setError(caught);
      }
    })();
    return () => controller.abort();
  }, [mags]);
  return { samples, error };
}
