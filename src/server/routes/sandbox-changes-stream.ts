import type { Context } from 'hono';
import type { SandboxChange, SandboxManager } from '../../sandboxes/sandbox-manager.ts';
import { changeStreamResponse } from './change-stream.ts';
import { toSandboxView } from './sandbox-view.ts';

/**
 * `GET /v1/sandboxes?follow=true`: the owner's sandboxes as Server-Sent Events. First a
 * `sandboxes` event with the list as `GET /v1/sandboxes` answers it, then a `sandbox` event with
 * a sandbox's snapshot each time one is created, started, stopped, put to sleep, woken or
 * changed, and `{"name":"...","deleted":true}` once one is deleted. See change-stream.ts.
 */
export function sandboxChangesResponse(
  c: Context,
  sandboxes: SandboxManager,
  owner: string,
): Promise<Response> {
  const latest = new Map<string, SandboxChange>();
  return changeStreamResponse(c, {
    listEvent: 'sandboxes',
    itemEvent: 'sandbox',
    subscribe: (changed) =>
      sandboxes.onChange((change) => {
        if (change.owner !== owner) return;
        latest.set(change.name, change);
        changed(change.name);
      }),
    list: async () => ({ sandboxes: (await sandboxes.list(owner)).map(toSandboxView) }),
    snapshot: async (name) => {
      const change = latest.get(name);
      latest.delete(name);
      if (!change) return undefined;
      return change.record ? toSandboxView(change.record) : { name, deleted: true };
    },
  });
}
