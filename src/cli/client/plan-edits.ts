import { readFile } from 'node:fs/promises';
import { parsePlanFile, planFileProblem } from '../../api/plan-file.ts';
import type { Plan, PlanSpec, PlanTicketSpec } from '../../api/plans.ts';
import type { Criterion } from '../../api/tickets.ts';
import { InvalidInputError } from '../../errors/mags-error.ts';
import { planGraph, planGraphError } from '../../plans/plan-graph.ts';
import { CommandUsageError } from './command-usage-error.ts';

/** The plan as data a person edits (`PUT /v1/plans/{id}/spec`): its summary and tickets. */
export function planSpecOf(plan: Plan): PlanSpec {
  return {
    summary: plan.summary ?? plan.request,
    tickets: plan.tickets.map(
      ({ key, title, request, criteria, role, model, budget, dependsOn }): PlanTicketSpec => ({
        key,
        title,
        request,
        criteria,
        ...(role !== undefined && { role }),
        ...(model !== undefined && { model }),
        ...(budget !== undefined && { budget }),
        dependsOn,
      }),
    ),
  };
}

/**
 * `mags plan edit --remove KEY`: the ticket taken out. One that others depend on is refused with
 * their keys, rather than quietly dropping what they were to start from.
 */
export function removeTicket(spec: PlanSpec, key: string): PlanSpec {
  ticketOf(spec, key, '--remove');
  const dependents = spec.tickets.filter((ticket) => ticket.dependsOn.includes(key));
  if (dependents.length > 0) {
    const names = dependents.map((ticket) => ticket.key).join(', ');
    throw new CommandUsageError(`Ticket ${key} cannot be removed: ${names} depend on it.`, {
      hint: `Remove ${names} too (--remove each), or edit their dependsOn (mags plan edit without flags).`,
    });
  }
  return { ...spec, tickets: spec.tickets.filter((ticket) => ticket.key !== key) };
}

/** `mags plan edit --criterion KEY TEXT [--check CMD]`: one more acceptance criterion. */
export function addCriterion(spec: PlanSpec, key: string, criterion: Criterion): PlanSpec {
  ticketOf(spec, key, '--criterion');
  return {
    ...spec,
    tickets: spec.tickets.map((ticket) =>
      ticket.key === key ? { ...ticket, criteria: [...ticket.criteria, criterion] } : ticket,
    ),
  };
}

function ticketOf(spec: PlanSpec, key: string, flag: string): PlanTicketSpec {
  const found = spec.tickets.find((ticket) => ticket.key === key);
  if (!found) {
    throw new CommandUsageError(`${flag} ${key}: the plan has no ticket ${key}.`, {
      hint: `Its tickets: ${spec.tickets.map((ticket) => ticket.key).join(', ')}.`,
    });
  }
  return found;
}

/** `--file plan.yaml`, read and parsed; errors name the file and the field. */
export async function readPlanFile(path: string): Promise<PlanSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InvalidInputError(`Cannot read ${path}: ${(error as Error).message}.`);
  }
  return parsePlanFileChecked(text, path);
}

/**
 * A plan file parsed, then its graph checked here as the server would (a cycle, an unknown
 * dependency, a duplicate key), named with the file and the line of the ticket, as a field's
 * problem is.
 */
export function parsePlanFileChecked(text: string, file: string): PlanSpec {
  const spec = parsePlanFile(text, file);
  const graph = planGraph(spec);
  if (!('problem' in graph)) return spec;
  const { problem } = graph;
  const path =
    problem.dependency !== undefined
      ? ['tickets', problem.ticket, 'dependsOn', problem.dependency]
      : problem.kind === 'duplicate_key'
        ? ['tickets', problem.ticket, 'key']
        : ['tickets', problem.ticket];
  const hint = planGraphError(problem).hint ?? '';
  throw planFileProblem(text, file, { path, message: problem.message, hint });
}
