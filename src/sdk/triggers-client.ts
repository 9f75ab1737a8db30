import type { CreatedTrigger, CreateTriggerBody, Trigger, TriggerFiring } from '../api/triggers.ts';

type Json = <T>(method: string, path: string, body?: unknown) => Promise<T>;

const triggerPath = (ref: string) => `/v1/triggers/${encodeURIComponent(ref)}`;

/**
 * `mags.triggers`: background agents (`/v1/triggers`): a ticket template fired by a schedule, a
 * signed webhook or an event. A trigger is named by its id or its name.
 */
export function triggersClient(
  json: Json,
  send: (method: string, path: string) => Promise<unknown>,
) {
  return {
    /** Adds it; a webhook trigger's `secret` is in this answer only. */
    create: (body: CreateTriggerBody): Promise<CreatedTrigger> =>
      json('POST', '/v1/triggers', body),
    list: async (): Promise<Trigger[]> =>
      (await json<{ triggers: Trigger[] }>('GET', '/v1/triggers')).triggers,
    get: (ref: string): Promise<Trigger> => json('GET', triggerPath(ref)),
    /** What each firing did, newest first. */
    firings: async (ref: string, options: { limit?: number } = {}): Promise<TriggerFiring[]> =>
      (
        await json<{ firings: TriggerFiring[] }>(
          'GET',
          `${triggerPath(ref)}/firings${options.limit ? `?limit=${options.limit}` : ''}`,
        )
      ).firings,
    pause: (ref: string): Promise<Trigger> => json('POST', `${triggerPath(ref)}/pause`),
    resume: (ref: string): Promise<Trigger> => json('POST', `${triggerPath(ref)}/resume`),
    /** Fires it now (through its limits), with a payload for the template. */
    fire: async (ref: string, payload?: unknown): Promise<TriggerFiring> =>
      (
        await json<{ firing: TriggerFiring }>(
          'POST',
          `${triggerPath(ref)}/fire`,
          payload === undefined ? undefined : { payload },
        )
      ).firing,
    /** A webhook trigger's new secret (in this answer only); the old one stops at once. */
    rotateSecret: (ref: string): Promise<CreatedTrigger> =>
      json('POST', `${triggerPath(ref)}/rotate-secret`),
    /** Removes it and its history (the tickets it created stay). */
    remove: async (ref: string): Promise<void> => {
      await send('DELETE', triggerPath(ref));
    },
  };
}

export type TriggersClient = ReturnType<typeof triggersClient>;
