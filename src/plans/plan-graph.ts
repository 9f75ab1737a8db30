import type { PlanSpec, PlanTicketSpec } from '../api/plans.ts';
import { InvalidInputError } from '../errors/mags-error.ts';

/**
 * Checks that a plan's tickets form a DAG: keys unique, every dependency a key of the plan and
 * not the ticket itself, no cycle (the cycle is named: `a → b → a`). Returns the keys in an order
 * where each ticket comes after its dependencies (stable: the plan's order where it is free),
 * which is also the order results are merged in.
 */
export function checkPlanGraph(spec: Pick<PlanSpec, 'tickets'>): string[] {
  const byKey = new Map<string, PlanTicketSpec>();
  for (const ticket of spec.tickets) {
    if (byKey.has(ticket.key)) throw graphError(`Two tickets have the key ${ticket.key}.`);
    byKey.set(ticket.key, ticket);
  }
  for (const ticket of spec.tickets) {
    for (const dependency of ticket.dependsOn) {
      if (dependency === ticket.key) {
        throw graphError(`Ticket ${ticket.key} depends on itself.`);
      }
      if (!byKey.has(dependency)) {
        throw graphError(
          `Ticket ${ticket.key} depends on ${dependency}, which is not a ticket of the plan (its keys: ${[...byKey.keys()].join(', ')}).`,
        );
      }
    }
  }
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (key: string, path: string[]): void => {
    const seen = state.get(key);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      const cycle = [...path.slice(path.indexOf(key)), key];
      throw graphError(`The plan's dependencies form a cycle: ${cycle.join(' → ')}.`);
    }
    state.set(key, 'visiting');
    for (const dependency of byKey.get(key)?.dependsOn ?? []) visit(dependency, [...path, key]);
    state.set(key, 'done');
    order.push(key);
  };
  for (const ticket of spec.tickets) visit(ticket.key, []);
  return order;
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

function graphError(message: string): InvalidInputError {
  return new InvalidInputError(message, {
    code: 'plan_graph',
    hint: 'A ticket may depend only on other tickets of the same plan, by key, without a cycle.',
  });
}
