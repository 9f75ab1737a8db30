import { randomUUID } from 'node:crypto';
import type { PlanTicket } from '../api/plans.ts';
import type { PlanRecord } from '../state/state-repository.ts';
import { approvedResults, type MergeFailure, mergeFailure } from './approved-results.ts';
import { noConflictMarkersCriterion, withResolveTask } from './conflict-resolution.ts';
import type { PlanDispatch } from './plan-dispatch.ts';
import { checkPlanGraph } from './plan-graph.ts';
import type { ItemChange } from './plan-items.ts';
import type { MergedFork } from './plan-parts.ts';

/** A ready item: queued at once without dependencies, else merging its dependencies' results. */
export async function startItem(
  dispatch: PlanDispatch,
  plan: PlanRecord,
  item: PlanTicket,
): Promise<ItemChange> {
  const from = item.state;
  if (item.dependsOn.length > 0) {
    item.state = 'merging';
    item.reason = null;
    // Marked before the merge starts: `advance` resets a `merging` item no merge here runs.
    const merge = `${plan.id}/${item.key}`;
    dispatch.merges.add(merge);
    dispatch.background(
      `plan ${plan.id}: merge for ${item.key}`,
      mergeAndStart(dispatch, plan, item.key).finally(() => dispatch.merges.delete(merge)),
    );
    return { key: item.key, from, to: 'merging', reason: null };
  }
  return queueItem(dispatch, plan, item, undefined);
}

/**
 * Queues the item's ticket (from `start`, the merged workspace, when given), its budget capped
 * at what the plan's has left. A merged workspace that is not used is discarded.
 */
async function queueItem(
  dispatch: PlanDispatch,
  plan: PlanRecord,
  item: PlanTicket,
  start: MergedFork | undefined,
): Promise<ItemChange> {
  const from = item.state;
  try {
    if (!item.ticket) throw new Error('it has no ticket');
    const budget = await dispatch.ticketBudget(plan, item.ticket);
    const queued = await dispatch.options.tickets.run(plan.owner, item.ticket, {
      plan: plan.id,
      start,
      budget,
    });
    if (start && queued.workspace !== start.workspace) {
      await dispatch.discard(plan.owner, plan.project, start.workspace);
    }
    item.state = 'dispatched';
    item.reason = null;
    item.resolveConflicts = undefined;
    item.conflictFiles = [];
    item.ticketStatus = queued.status;
  } catch (error) {
    if (start) await dispatch.discard(plan.owner, plan.project, start.workspace);
    item.state = 'blocked';
    item.reason = `could not start: ${(error as Error).message}`;
  }
  return { key: item.key, from, to: item.state, reason: item.reason };
}

/**
 * Forks the project with the item's dependencies' approved results merged in (outside the
 * plan's lock: it takes a while), then, under the lock, queues its ticket from there, or records
 * the conflict. A plan stopped meanwhile drops the merge (the item waits again). An item retried
 * to resolve its conflict starts from the conflicting merge, resolving it as its first task.
 */
async function mergeAndStart(
  dispatch: PlanDispatch,
  planAtStart: PlanRecord,
  key: string,
): Promise<void> {
  const { owner, project } = planAtStart;
  const { repository, git } = dispatch.options;
  const item = planAtStart.tickets.find((each) => each.key === key);
  if (!item?.ticket) return;
  const resolving = item.resolveConflicts === true;
  let merged: MergedFork | undefined;
  let failure: MergeFailure | undefined;
  let commits: string[] = [];
  try {
    const order = checkPlanGraph(planAtStart);
    const dependencies = order.filter((each) => item.dependsOn.includes(each));
    const { results } = await approvedResults(repository, planAtStart, dependencies);
    commits = results.map((result) => result.commit);
    merged = await git.forkMerged(owner, project, `${item.ticket}-${randomUUID()}`, results, {
      signal: dispatch.planSignal(planAtStart.id),
      ...(planAtStart.baseCommit ? { baseCommit: planAtStart.baseCommit } : {}),
      ...(resolving ? { allowConflicts: true } : {}),
    });
  } catch (error) {
    if (dispatch.closing) return; // left `merging`: the next server process merges it again
    failure = mergeFailure(error);
  }
  await dispatch.locked(planAtStart.id, async () => {
    const plan = await repository.getPlan(owner, planAtStart.id);
    const current = plan?.tickets.find((each) => each.key === key);
    if (!plan || current?.state !== 'merging') {
      if (merged) await dispatch.discard(owner, project, merged.workspace);
      return;
    }
    const conflicts =
      failure && 'conflict' in failure ? failure.conflict : (merged?.conflicts ?? []);
    if (!failure || 'conflict' in failure) {
      await dispatch.events.append(plan.id, {
        type: 'merge',
        key,
        commits,
        result: conflicts.length > 0 ? 'conflict' : 'merged',
        files: conflicts,
      });
    }
    let change: ItemChange;
    if (plan.status !== 'running' && plan.status !== 'blocked') {
      if (merged) await dispatch.discard(owner, project, merged.workspace);
      current.state = 'waiting';
      change = { key, from: 'merging', to: 'waiting', reason: `its plan is ${plan.status}` };
    } else if (failure && 'conflict' in failure) {
      current.state = 'conflict';
      current.conflictFiles = failure.conflict;
      current.resolveConflicts = undefined;
      current.reason = `its dependencies' results conflict in ${failure.conflict.join(', ')}`;
      change = { key, from: 'merging', to: 'conflict', reason: current.reason };
    } else if (failure || !merged) {
      current.state = 'blocked';
      current.reason = `could not merge its dependencies' results: ${failure && 'error' in failure ? failure.error : 'no workspace'}`;
      change = { key, from: 'merging', to: 'blocked', reason: current.reason };
    } else {
      if (conflicts.length > 0 && current.ticket) {
        await addResolveTask(dispatch, owner, current.ticket, conflicts);
      }
      change = await queueItem(dispatch, plan, current, merged);
    }
    await dispatch.saveItems(plan, [change]);
    await dispatch.advance(plan);
  });
}

/** The ticket (a draft of the plan) gets resolving the conflict as its first task and criterion. */
async function addResolveTask(
  dispatch: PlanDispatch,
  owner: string,
  ticketId: string,
  files: string[],
): Promise<void> {
  const { repository } = dispatch.options;
  const ticket = await repository.getTicket(owner, ticketId);
  if (ticket?.status !== 'draft') return;
  await repository.updateTicket(ticketId, {
    request: withResolveTask(ticket.request, files),
    criteria: [noConflictMarkersCriterion(files), ...ticket.criteria],
    updatedAt: new Date().toISOString(),
  });
}
