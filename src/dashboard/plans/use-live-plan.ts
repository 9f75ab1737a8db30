import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { Plan } from '../../api/plans.ts';
import { useMags } from '../client-context.ts';

/**
 * A plan kept current by its event stream (`plans.events` with `follow`): each event that changes
 * what the page shows (a status, a ticket's state or status, usage) reads the plan again. The
 * server ends the stream once the plan is settled (a draft, blocked, awaiting review, ended);
 * `restart()` follows again after an action moved it.
 */
export function useLivePlan(id: string) {
  const mags = useMags();
  const [plan, setPlan] = useState<Plan>();
  const [error, setError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  const lastEventId = useRef(0);
  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    void (async () => {
      try {
        const read = async () => {
          const fresh = await mags.plans.get(id);
          if (!signal.aborted) setPlan(fresh);
        };
        await read();
        for await (const event of mags.plans.events(id, {
          follow: true,
          after: lastEventId.current,
          signal,
        })) {
          lastEventId.current = event.id;
          const type = event.data.type;
          if (
            type === 'plan_status' ||
            type === 'ticket_state' ||
            type === 'usage' ||
            (type === 'ticket_event' && event.data.event.data.type === 'status')
          ) {
            await read();
          }
        }
        await read();
      } catch (caught) {
        if (!signal.aborted) setError(caught);
      }
    })();
    return () => controller.abort();
  }, [mags, id, generation]);
  const restart = useCallback(() => setGeneration((value) => value + 1), []);
  return { plan, error, setPlan, restart };
}
