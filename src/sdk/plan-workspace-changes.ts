import type { Plan, PlanStatus } from '../api/plans.ts';
import type { WorkspaceInfo } from '../api/schemas.ts';
import { type FollowChangesOptions, followChanges } from './follow-changes.ts';
import type { LogRequest } from './log-stream.ts';
import { queryString } from './query-string.ts';

export interface PlanChangesOptions extends FollowChangesOptions {
  project?: string;
  status?: PlanStatus;
}

/** What `plans.follow` yields: the whole list (first, and after a reconnection), or one plan. */
export type PlanChange = { type: 'plans'; plans: Plan[] } | { type: 'plan'; plan: Plan };

/** What `workspaces.follow` yields: the list, a workspace's snapshot, or the name of one deleted. */
export type WorkspaceChange =
  | { type: 'workspaces'; workspaces: WorkspaceInfo[] }
  | { type: 'workspace'; workspace: WorkspaceInfo }
  | { type: 'deleted'; name: string };

/**
 * The owner's plans followed live (`GET /v1/plans?follow=true`): the list, then each plan's
 * snapshot as it is made, edited, or changes status, progress or usage, until `signal` aborts;
 * reconnects after a dropped connection (the list then comes again).
 */
export function followPlanChanges(
  request: LogRequest,
  options: PlanChangesOptions = {},
): AsyncGenerator<PlanChange> {
  return followChanges<PlanChange>(
    request,
    `/v1/plans${queryString({ follow: true, project: options.project, status: options.status })}`,
    (event, data) => {
      if (event === 'plans') return { type: 'plans', plans: (data as { plans: Plan[] }).plans };
      if (event === 'plan') return { type: 'plan', plan: data as Plan };
      return undefined;
    },
    options,
  );
}

/**
 * The owner's workspaces followed live (`GET /v1/workspaces?follow=true`): the list, then each
 * workspace's snapshot as it is made, synced, forked or used by a run that ended, and a
 * `deleted` change once one is deleted, until `signal` aborts; reconnects like plans'.
 */
export function followWorkspaceChanges(
  request: LogRequest,
  options: FollowChangesOptions = {},
): AsyncGenerator<WorkspaceChange> {
  return followChanges<WorkspaceChange>(
    request,
    '/v1/workspaces?follow=true',
    (event, data) => {
      if (event === 'workspaces') {
        const list = data as { workspaces: WorkspaceInfo[] };
        return { type: 'workspaces', workspaces: list.workspaces };
      }
      if (event !== 'workspace') return undefined;
      const deleted = data as { name: string; deleted?: boolean };
      if (deleted.deleted) return { type: 'deleted', name: deleted.name };
      return { type: 'workspace', workspace: data as WorkspaceInfo };
    },
    options,
  );
}
