import type { Plan } from '../../api/plans.ts';
import type { Ticket, TokenUsage } from '../../api/tickets.ts';

const difference = (after: TokenUsage, before: TokenUsage): TokenUsage => ({
  inputTokens: after.inputTokens - before.inputTokens,
  outputTokens: after.outputTokens - before.outputTokens,
  costUsd: after.costUsd - before.costUsd,
  steps: after.steps - before.steps,
});

const sum = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  costUsd: a.costUsd + b.costUsd,
  steps: a.steps + b.steps,
});

/**
 * The plan with its tickets' statuses and usage as their live snapshots have them (the owner's
 * ticket stream), its totals moved by what the tickets used since the plan was read (they are
 * the tickets' usage summed, planner included).
 */
export function withTicketSnapshots(plan: Plan, tickets: ReadonlyMap<string, Ticket>): Plan {
  let changed = false;
  let usage = plan.usage;
  const planTickets = plan.tickets.map((entry) => {
    const snapshot = entry.ticket ? tickets.get(entry.ticket) : undefined;
    if (!snapshot) return entry;
    if (snapshot.status === entry.ticketStatus && snapshot.usage.steps === entry.usage.steps)
      return entry;
    changed = true;
    // Only forwards: a snapshot older than the plan's read moves nothing back.
    if (snapshot.usage.steps >= entry.usage.steps) {
      usage = sum(usage, difference(snapshot.usage, entry.usage));
      return { ...entry, ticketStatus: snapshot.status, usage: snapshot.usage };
    }
    return entry;
  });
  return changed ? { ...plan, tickets: planTickets, usage } : plan;
}
