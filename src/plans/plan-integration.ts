import { randomUUID } from 'node:crypto';
import { noUsage } from '../agents/token-usage.ts';
import type { PlanRecord, TicketRecord } from '../state/state-repository.ts';
import { approvedResults, type MergeFailure, mergeFailure } from './approved-results.ts';
import { resolveIntegrationKey } from './conflict-resolution.ts';
import type { PlanDispatch } from './plan-dispatch.ts';
import { planEvidence } from './plan-evidence.ts';
import { checkPlanGraph } from './plan-graph.ts';
import type { PlanGit } from './plan-parts.ts';

type Integrated = Awaited<ReturnType<PlanGit['integrate']>>;

/**
 * The integration of a plan whose tickets are all approved (outside its lock), then under it:
 * the plan's evidence and `awaiting_review`; or, on a conflict, a `resolve-integration` ticket
 * in conflict (a retry of it resolves the conflict) and `blocked`; or `failed`.
 */
export async function integratePlan(
  dispatch: PlanDispatch,
  planAtStart: PlanRecord,
): Promise<void> {
  const { owner, project } = planAtStart;
  const { repository, git } = dispatch.options;
  const startedAt = new Date().toISOString();
  let integrated: Integrated | undefined;
  let failure: MergeFailure | undefined;
  let order: string[] = [];
  let tickets = new Map<string, TicketRecord>();
  let commits: string[] = [];
  try {
    // A previous integration (before a retry) is not used any more.
    if (planAtStart.integration) {
      await dispatch.discard(owner, project, planAtStart.integration.workspace);
    }
    order = checkPlanGraph(planAtStart);
    const approved = await approvedResults(repository, planAtStart, order);
    tickets = approved.tickets;
    // A dependent started from its dependencies' merge: its commit has theirs (and a conflict
    // between them resolved), so only the tickets nothing depends on are merged.
    const depended = new Set(planAtStart.tickets.flatMap((each) => each.dependsOn));
    const heads = approved.results.filter((result) => !depended.has(result.key));
    commits = heads.map((result) => result.commit);
    integrated = await git.integrate(
      owner,
      project,
      `${planAtStart.id}-integration-${randomUUID()}`,
      {
        baseCommit: planAtStart.baseCommit ?? '',
        results: heads,
        criteria: [...approved.tickets].map(([key, ticket]) => ({
          key,
          criteria: ticket.criteria,
        })),
        signal: dispatch.planSignal(planAtStart.id),
      },
    );
  } catch (error) {
    if (dispatch.closing) return; // left `integrating`: the next server process integrates again
    failure = mergeFailure(error);
  }
  await dispatch.locked(planAtStart.id, async () => {
    const plan = await repository.getPlan(owner, planAtStart.id);
    if (plan?.status !== 'integrating') {
      if (integrated) await dispatch.discard(owner, project, integrated.workspace);
      return;
    }
    if (failure && 'conflict' in failure) {
      await dispatch.events.append(plan.id, {
        type: 'merge',
        key: null,
        commits,
        result: 'conflict',
        files: failure.conflict,
      });
      await integrationConflict(dispatch, plan, failure.conflict);
      return;
    }
    if (failure || !integrated) {
      await dispatch.fail(
        plan,
        `the integration failed: ${failure && 'error' in failure ? failure.error : 'no result'}`,
      );
      return;
    }
    await dispatch.events.append(plan.id, {
      type: 'merge',
      key: null,
      commits,
      result: 'merged',
      files: [],
    });
    const evidence = await planEvidence(repository, plan, {
      mergeOrder: order,
      tickets,
      integrated,
      startedAt,
    });
    await repository.putPlanEvidence(evidence);
    await dispatch.transition(plan, 'awaiting_review', integratedReason(plan, integrated), {
      integration: {
        workspace: integrated.workspace,
        commit: integrated.commit,
        tree: integrated.tree,
      },
    });
  });
}

/** What the integration says, in words: its tests and the criteria verified on it. */
function integratedReason(plan: PlanRecord, integrated: Integrated): string {
  const tests = integrated.tests;
  const testWords = !tests
    ? 'no test command'
    : tests.exitCode === 0
      ? 'tests passed'
      : `tests failed (${tests.timedOut ? 'timed out' : `exit ${tests.exitCode}`})`;
  const results = integrated.criteria.flatMap((each) => each.results);
  const met = results.filter((result) => result.status === 'met').length;
  return `${plan.tickets.length} tickets approved and integrated; ${testWords}; ${met} of ${results.length} criteria verified met on the integration`;
}

/**
 * The plan's results conflict when integrated: a `resolve-integration` ticket (depending on
 * every other) is added in `conflict`, and the plan is blocked until it is retried.
 */
async function integrationConflict(
  dispatch: PlanDispatch,
  plan: PlanRecord,
  files: string[],
): Promise<void> {
  let item = plan.tickets.find((each) => each.key === resolveIntegrationKey);
  const dependsOn = plan.tickets
    .filter((each) => each.key !== resolveIntegrationKey)
    .map((each) => each.key);
  if (!item) {
    const spec = {
      key: resolveIntegrationKey,
      title: `Resolve the integration conflicts in ${files.join(', ')}`,
      request: `The approved results of this plan's tickets (${dependsOn.join(', ')}) conflict when merged together. Make them work together.`,
      criteria: [{ text: "The project's tests pass with every ticket's result merged" }],
      dependsOn,
    };
    const ticket = await dispatch.options.tickets.create(
      plan.owner,
      {
        project: plan.project,
        title: spec.title,
        request: spec.request,
        criteria: spec.criteria,
      },
      { plan: plan.id },
    );
    item = {
      ...spec,
      state: 'conflict',
      reason: null,
      ticket: ticket.id,
      ticketStatus: ticket.status,
      usage: noUsage,
      conflictFiles: files,
    };
    plan.tickets.push(item);
    dispatch.track({ ...plan, tickets: [item] });
  }
  const from = item.state;
  item.state = 'conflict';
  item.conflictFiles = files;
  item.reason = `the integration conflicts in ${files.join(', ')}`;
  await dispatch.saveItems(plan, [{ key: item.key, from, to: 'conflict', reason: item.reason }]);
  await dispatch.transition(
    plan,
    'blocked',
    `the integration conflicts in ${files.join(', ')}: mags plan retry ${plan.id} ${resolveIntegrationKey} has an agent resolve it`,
  );
}
