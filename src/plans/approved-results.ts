import type { PlanRecord, StateRepository, TicketRecord } from '../state/state-repository.ts';
import { type ApprovedResult, MergeConflictError } from './plan-parts.ts';

/**
 * The approved results of `keys` (in the plan's merge order), with their tickets; throws naming
 * the first that has no approved commit.
 */
export async function approvedResults(
  repository: StateRepository,
  plan: PlanRecord,
  keys: string[],
): Promise<{ results: ApprovedResult[]; tickets: Map<string, TicketRecord> }> {
  const results: ApprovedResult[] = [];
  const tickets = new Map<string, TicketRecord>();
  for (const key of keys) {
    const ticketId = plan.tickets.find((each) => each.key === key)?.ticket;
    const ticket = ticketId ? await repository.getTicket(plan.owner, ticketId) : undefined;
    if (!ticket?.commit) throw new Error(`ticket ${key} has no approved commit`);
    tickets.set(key, ticket);
    results.push({ key, ticket: ticket.id, commit: ticket.commit });
  }
  return { results, tickets };
}

/** Why a merge did not give a workspace: the files that conflict, or an error's words. */
export type MergeFailure = { conflict: string[] } | { error: string };

export function mergeFailure(error: unknown): MergeFailure {
  return error instanceof MergeConflictError
    ? { conflict: error.files }
    : { error: (error as Error).message };
}
