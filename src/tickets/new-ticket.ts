import type { AgentRole } from '../agents/agent.ts';
import { noUsage } from '../agents/token-usage.ts';
import type { CreateTicketBody } from '../api/tickets.ts';
import { randomId } from '../config/random-id.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import type { ProjectRecord, TicketRecord } from '../state/state-repository.ts';
import type { CheckModel, ResolveRole } from './ticket-parts.ts';
import type { TicketSettings } from './ticket-settings.ts';

/**
 * The model a ticket runs with: its own, else its role's, else its project's (the record, then
 * its repository's `.mags/project.json`), else the server's default. A clear error when none is.
 */
export function chooseModel(
  ticket: Pick<TicketRecord, 'model'>,
  role: { model?: string | null },
  project: ProjectRecord,
  settings: Pick<TicketSettings, 'defaultModel'>,
): string {
  const model =
    ticket.model ?? role.model ?? project.model ?? project.config.model ?? settings.defaultModel;
  if (model) return model;
  throw new InvalidInputError('No model to run this ticket with.', {
    code: 'model_missing',
    hint: "Give one (--model anthropic:claude-sonnet-4-5), or set a default: the role's, the project's (model in its .mags/project.json), or the server's (MAGS_DEFAULT_MODEL).",
  });
}

export interface TicketChoices {
  role: AgentRole & { model?: string | null };
  model: string;
}

/** The role and model a ticket resolves to; throws the resolver's or the check's clear error. */
export function resolveTicketChoices(
  ticket: Pick<TicketRecord, 'model' | 'role'>,
  project: ProjectRecord,
  parts: { resolveRole: ResolveRole; checkModel: CheckModel },
  settings: Pick<TicketSettings, 'defaultModel'>,
  environment: NodeJS.ProcessEnv,
): TicketChoices {
  const role = parts.resolveRole(ticket.role, project.config.roles);
  const model = chooseModel(ticket, role, project, settings);
  parts.checkModel(model, environment);
  return { role, model };
}

/** A new ticket's record, a draft with no attempt yet (nothing is stored here). */
export function newTicketRecord(
  owner: string,
  body: CreateTicketBody,
  settings: Pick<TicketSettings, 'defaultRole'>,
): TicketRecord {
  const at = new Date().toISOString();
  return {
    id: randomId('tkt_', 12),
    owner,
    project: body.project,
    title: body.title,
    request: body.request,
    criteria: body.criteria,
    role: body.role ?? settings.defaultRole,
    model: body.model ?? null,
    budget: body.budget ?? {},
    status: 'draft',
    reason: null,
    workspace: null,
    baseCommit: null,
    baseTree: null,
    attempt: 0,
    usage: noUsage,
    branch: null,
    commit: null,
    createdAt: at,
    updatedAt: at,
    history: [],
    host: null,
    server: null,
    plan: null,
  };
}
