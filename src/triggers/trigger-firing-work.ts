import type { CreateTicketBody } from '../api/tickets.ts';
import type { FiringRecord, StateRepository, TriggerRecord } from '../state/state-repository.ts';
import {
  parseTriggerTemplate,
  renderTemplate,
  type TemplateValues,
  type TriggerTemplate,
} from './trigger-template.ts';
import { type TriggerPlans, type TriggerTickets, workOf } from './trigger-work.ts';

/** The most of a payload a merged firing posts as a comment. */
const maxCommentPayloadChars = 20_000;

interface WorkServices {
  tickets: TriggerTickets;
  plans?: TriggerPlans;
  repository: Pick<StateRepository, 'listFirings'>;
}

/** What was decided, and what to do once the firing is claimed (as in trigger-firing.ts). */
export interface WorkDecision {
  fields: Partial<FiringRecord>;
  afterClaim?: (firing: FiringRecord) => Promise<Partial<FiringRecord>>;
}

/**
 * A `created` firing whose work is made once it is claimed: the template rendered now (a
 * render failure is the firing's `failed`), its cap the template's budget within what is left of
 * the day's (reserved with the firing, so the limits of the next firing count it at once).
 */
export function createWork(
  trigger: TriggerRecord,
  values: TemplateValues,
  remainingUsd: number | null,
  services: WorkServices,
): WorkDecision {
  const { tickets, plans } = services;
  const template = parseTriggerTemplate(trigger.spec.template, trigger.project);
  if (trigger.spec.creates === 'plan') {
    if (!plans) return { fields: { status: 'failed', reason: 'this server has no plans' } };
    const { title, request } = renderTemplate(template, values);
    return {
      fields: { status: 'created', active: true, reservedUsd: remainingUsd },
      afterClaim: async () => {
        const plan = await plans.create(trigger.owner, {
          project: trigger.project,
          request: `${title}\n\n${request}`,
          auto: true,
          autoApprove: trigger.spec.autoApprove,
          ...(template.model && { model: template.model }),
          ...(remainingUsd !== null && { budget: { maxCostUsd: remainingUsd } }),
        });
        return { plan: plan.id };
      },
    };
  }
  const body = ticketBody(trigger, template, values, remainingUsd);
  return {
    fields: { status: 'created', active: true, reservedUsd: body.budget?.maxCostUsd ?? null },
    afterClaim: async () => {
      const ticket = await tickets.create(trigger.owner, body);
      return { ticket: ticket.id };
    },
  };
}

/**
 * The ticket one firing creates: the template rendered with `values`, its cap the template's
 * budget within what is left of the day's (`remainingUsd`, null: no daily budget).
 */
export function ticketBody(
  trigger: Pick<TriggerRecord, 'project'>,
  template: TriggerTemplate,
  values: TemplateValues,
  remainingUsd: number | null,
): CreateTicketBody {
  const { title, request } = renderTemplate(template, values);
  const templateCap = template.budget?.maxCostUsd;
  const maxCostUsd =
    remainingUsd === null
      ? templateCap
      : Math.min(templateCap ?? Number.POSITIVE_INFINITY, remainingUsd);
  const budget = { ...template.budget, ...(maxCostUsd !== undefined && { maxCostUsd }) };
  return {
    project: trigger.project,
    title,
    request,
    criteria: template.criteria,
    ...(template.role && { role: template.role }),
    ...(template.model && { model: template.model }),
    ...(Object.keys(budget).length > 0 && { budget }),
    run: true,
  };
}

/** The latest firing of this key whose work is still open; undefined when there is none. */
export async function findOpenOfKey(
  trigger: TriggerRecord,
  key: string,
  services: WorkServices,
): Promise<FiringRecord | undefined> {
  const same = await services.repository.listFirings({ trigger: trigger.id, key, limit: 20 });
  for (const earlier of same) {
    if (earlier.status !== 'created' && earlier.status !== 'merged') continue;
    const work = await workOf(earlier, services.tickets, services.plans);
    if (work?.open) return earlier;
  }
  return undefined;
}

/** A `merged` firing: its payload posted on the open ticket once it is claimed. */
export function mergeInto(
  earlier: FiringRecord,
  trigger: TriggerRecord,
  firing: FiringRecord,
  payload: unknown,
  services: WorkServices,
): WorkDecision {
  if (!earlier.ticket) {
    return {
      fields: {
        status: 'merged',
        plan: earlier.plan,
        reason: `plan ${earlier.plan} of the same key is still open`,
      },
    };
  }
  const ticket = earlier.ticket;
  return {
    fields: {
      status: 'merged',
      ticket,
      reason: `merged into the open ticket ${ticket} of the same key (its payload posted as a comment)`,
    },
    afterClaim: async () => {
      const json = (JSON.stringify(payload ?? null, null, 2) ?? 'null').slice(
        0,
        maxCommentPayloadChars,
      );
      const text = `Trigger ${trigger.name} fired again with the same key ${JSON.stringify(firing.key)} (${firing.source}, ${firing.id}). Its payload:\n${json}`;
      try {
        await services.tickets.comment(trigger.owner, ticket, {
          author: `trigger:${trigger.name}`,
          text,
        });
        return {};
      } catch (error) {
        return {
          status: 'failed',
          reason: `ticket ${ticket} of the same key closed before its payload could be posted (${(error as Error).message}); fire again for a new one`,
        };
      }
    },
  };
}
