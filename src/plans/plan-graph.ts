import type { PlanSpec, PlanTicketSpec } from '../api/plans.ts';
import { InvalidInputError } from '../errors/mags-error.ts';

/** What is wrong with a plan's graph: the ticket (its index) and, for a dependency, its index. */
export interface PlanGraphProblem {
  kind: 'duplicate_key' | 'dependency' | 'cycle';
  message: string;
  ticket: number;
  dependency?: number;
}

/**
 * Checks that a plan's tickets form a DAG: keys unique, every dependency a key of the plan and
 * not the ticket itself, no cycle (the cycle is named: `a → b → a`). Returns the keys in an order
 * where each ticket comes after its dependencies (stable: the plan's order where it is free),
 * which is also the order results are merged in.
 */
export function checkPlanGraph(spec: Pick<PlanSpec, 'tickets'>): string[] {
  const checked = planGraph(spec);
  if ('problem' in checked) throw planGraphError(checked.problem);
  return checked.order;
}

/** The graph's first problem (what `checkPlanGraph` throws), or its merge order. */
export function planGraph(
  spec: Pick<PlanSpec, 'tickets'>,
): { order: string[] } | { problem: PlanGraphProblem } {
  const byKey = new Map<string, PlanTicketSpec>();
  const indexOf = new Map<string, number>();
  for (const [index, ticket] of spec.tickets.entries()) {
    if (byKey.has(ticket.key)) {
      const message = `Two tickets have the key ${ticket.key}.`;
      return { problem: { kind: 'duplicate_key', message, ticket: index } };
    }
    byKey.set(ticket.key, ticket);
    indexOf.set(ticket.key, index);
  }
  for (const [index, ticket] of spec.tickets.entries()) {
    for (const [position, dependency] of ticket.dependsOn.entries()) {
      const at = { kind: 'dependency' as const, ticket: index, dependency: position };
      if (dependency === ticket.key) {
        return { problem: { ...at, message: `Ticket ${ticket.key} depends on itself.` } };
      }
      if (!byKey.has(dependency)) {
        const message = `Ticket ${ticket.key} depends on ${dependency}, which is not a ticket of the plan (its keys: ${[...byKey.keys()].join(', ')}).`;
        return { problem: { ...at, message } };
      }
    }
  }
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (key: string, path: string[]): PlanGraphProblem | undefined => {
    const seen = state.get(key);
    if (seen === 'done') return undefined;
    if (seen === 'visiting') {
      const cycle = [...path.slice(path.indexOf(key)), key];
      return {
        kind: 'cycle',
        message: `The plan's dependencies form a cycle: ${cycle.join(' → ')}.`,
        ticket: indexOf.get(key) ?? 0,
      };
    }
    state.set(key, 'visiting');
    for (const dependency of byKey.get(key)?.dependsOn ?? []) {
      const problem = visit(dependency, [...path, key]);
      if (problem) return problem;
    }
    state.set(key, 'done');
    order.push(key);
    return undefined;
  };
  for (const ticket of spec.tickets) {
    const problem = visit(ticket.key, []);
    if (problem) return { problem };
  }
  return { order };
}

/** Every ticket that depends on `key`, directly or through others (what a failure of it blocks). */
export function dependentsOf(spec: Pick<PlanSpec, 'tickets'>, key: string): string[] {
  const found = new Set<string>();
  let frontier = [key];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const ticket of spec.tickets) {
      if (found.has(ticket.key)) continue;
      if (ticket.dependsOn.some((dependency) => frontier.includes(dependency))) {
        found.add(ticket.key);
        next.push(ticket.key);
      }
    }
    frontier = next;
  }
  return spec.tickets.map((ticket) => ticket.key).filter((each) => found.has(each));
}

/** The error of a graph problem; a duplicate key has its own hint. */
export function planGraphError(
  problem: Pick<PlanGraphProblem, 'kind' | 'message'>,
): InvalidInputError {
  return new InvalidInputError(problem.message, {
    code: 'plan_graph',
    hint:
      problem.kind === 'duplicate_key'
        ? 'Each ticket needs a key of its own: rename one (and the dependsOn that mean it).'
        : 'A ticket may depend only on other tickets of the same plan, by key, without a cycle.',
  });
}
