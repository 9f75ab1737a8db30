import type { Context } from 'hono';
import type { WorkspaceManager, WorkspaceSummary } from '../../workspaces/workspace-manager.ts';
import { changeStreamResponse } from './change-stream.ts';

/**
 * `GET /v1/workspaces?follow=true`: the owner's workspaces as Server-Sent Events. First a
 * `workspaces` event with the list as `GET /v1/workspaces` answers it, then a `workspace` event
 * with a workspace's snapshot each time one is made (a run, a fork), synced, or used by a run
 * that ended (its size and last use), and `{"name":"...","deleted":true}` once one is deleted.
 * The manager names each change's owner: another owner's costs no read. See change-stream.ts.
 */
export function workspaceChangesResponse(
  c: Context,
  workspaces: WorkspaceManager,
  owner: string,
  view: (summary: WorkspaceSummary) => unknown,
): Promise<Response> {
  return changeStreamResponse(c, {
    listEvent: 'workspaces',
    itemEvent: 'workspace',
    subscribe: (changed) =>
      workspaces.onChange((change) => {
        if (change.owner === owner) changed(change.name);
      }),
    list: async () => ({ workspaces: (await workspaces.list(owner)).map(view) }),
    snapshot: async (name) => {
      // The owner's list is what the snapshot is read from: the same fields, the same rules.
      const found = (await workspaces.list(owner)).find((summary) => summary.name === name);
      return found ? view(found) : { name, deleted: true };
    },
  });
}
