import type { Context } from 'hono';
import type { Plan } from '../../api/plans.ts';
import { NotFoundError } from '../../errors/mags-error.ts';
import type { PlanManager } from '../../plans/plan-manager.ts';
import type { PlanFilter, PlanRecord } from '../../state/state-repository.ts';
import { changeStreamResponse } from './change-stream.ts';

/**
 * `GET /v1/plans?follow=true`: the owner's plans as Server-Sent Events. First a `plans` event
 * with the list as `GET /v1/plans` answers it, then a `plan` event with a plan's snapshot each
 * time one the project filter selects is made or edited, or changes status, progress (its
 * tickets' states) or usage (also one that leaves a `status` filter, so a client can move it).
 * The manager names each change's owner: another owner's costs no read. See change-stream.ts.
 */
export function planChangesResponse(
  c: Context,
  plans: PlanManager,
  owner: string,
  filter: Omit<PlanFilter, 'owner'>,
  view: (record: PlanRecord) => Plan,
): Promise<Response> {
  return changeStreamResponse(c, {
    listEvent: 'plans',
    itemEvent: 'plan',
    subscribe: (changed) =>
      plans.onChange((planOwner, planId) => {
        // Another owner's change is dropped here, before it costs this stream a read.
        if (planOwner === owner) changed(planId);
      }),
    // an unknown project is a 404 before the stream
    list: async () => ({ plans: (await plans.list(owner, filter)).map(view) }),
    snapshot: async (id) => {
      const record = await plans.get(owner, id).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
      if (!record) return undefined;
      if (filter.project !== undefined && record.project !== filter.project) return undefined;
      return view(record);
    },
  });
}
