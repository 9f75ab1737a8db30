import type { PlanEvidence } from '../api/plans.ts';
import type { PlanRecord, StateRepository, TicketRecord } from '../state/state-repository.ts';
import type { PlanGit } from './plan-parts.ts';

type Integrated = Awaited<ReturnType<PlanGit['integrate']>>;

/**
 * What one review of the whole plan shows: the integration's combined diff and tests, and each
 * ticket's criteria as verified on the integration (its own evidence's results kept beside them
 * as `ticketCriteria`), with every ticket's usage.
 */
export async function planEvidence(
  repository: StateRepository,
  plan: PlanRecord,
  input: {
    mergeOrder: string[];
    tickets: Map<string, TicketRecord>;
    integrated: Integrated;
    startedAt: string;
  },
): Promise<PlanEvidence> {
  const tickets: PlanEvidence['tickets'] = [];
  for (const key of input.mergeOrder) {
    const item = plan.tickets.find((each) => each.key === key);
    const ticket = input.tickets.get(key);
    if (!item || !ticket) continue;
    const evidence = await repository.getEvidence(ticket.id);
    tickets.push({
      key,
      ticket: ticket.id,
      title: ticket.title,
      commit: ticket.commit,
      criteria: input.integrated.criteria.find((each) => each.key === key)?.results ?? [],
      ticketCriteria: evidence?.criteria ?? [],
      usage: ticket.usage,
    });
  }
  const finishedAt = new Date().toISOString();
  return {
    plan: plan.id,
    baseCommit: plan.baseCommit ?? '',
    commit: input.integrated.commit,
    tree: input.integrated.tree,
    mergeOrder: input.mergeOrder,
    diff: input.integrated.diff,
    diffStat: input.integrated.diffStat,
    tests: input.integrated.tests,
    tickets,
    // The plan's own total: its tickets' and its planner's.
    usage: plan.usage,
    startedAt: input.startedAt,
    finishedAt,
    durationMs: Date.parse(finishedAt) - Date.parse(input.startedAt),
  };
}
