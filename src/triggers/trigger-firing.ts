import type { FiringSource } from '../api/triggers.ts';
import { randomId } from '../config/random-id.ts';
import type { FiringRecord, StateRepository, TriggerRecord } from '../state/state-repository.ts';
import { checkLimits, recentFiringsLooked } from './trigger-limits.ts';
import {
  parseTriggerTemplate,
  render,
  renderTemplate,
  type TemplateValues,
} from './trigger-template.ts';
import { type TriggerPlans, type TriggerTickets, workOf } from './trigger-work.ts';

/** What set a trigger off. */
export interface FiringInput {
  source: FiringSource;
  payload?: unknown;
  /** An event's facts, for `{{event.…}}` (its type and its payload). */
  event?: unknown;
  /** A schedule's time it fires for. */
  scheduledAt?: Date;
}

export interface TriggerFirerOptions {
  repository: StateRepository;
  tickets: TriggerTickets;
  plans?: TriggerPlans;
  log: (line: string) => void;
  now?: () => Date;
}

/** The most of a payload stored with its firing, as JSON; a larger one is stored as its size. */
export const maxStoredPayloadBytes = 64 * 1024;
/** The most of a payload a merged firing posts as a comment. */
const maxCommentPayloadChars = 20_000;

/**
 * One firing of a trigger, from start to its record: paused or a limit refuses it (`skipped`),
 * a key matching a firing whose work is still open merges it into that ticket as a comment
 * (`merged`), otherwise a ticket (run at once) or a plan (auto) is created from the template
 * (`created`, or `failed` with the reason). Firings of one trigger run one at a time, so two at
 * once never both pass a limit that only one fits.
 */
export class TriggerFirer {
  readonly #options: TriggerFirerOptions;
  readonly #now: () => Date;
  readonly #tails = new Map<string, Promise<unknown>>();

  constructor(options: TriggerFirerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  fire(trigger: TriggerRecord, input: FiringInput): Promise<FiringRecord> {
    const previous = this.#tails.get(trigger.id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.#fire(trigger.id, input));
    this.#tails.set(trigger.id, next);
    void next
      .finally(() => {
        if (this.#tails.get(trigger.id) === next) this.#tails.delete(trigger.id);
      })
      .catch(() => {});
    return next;
  }

  /** Records a firing that did nothing (a schedule's missed times). */
  async record(
    trigger: TriggerRecord,
    fields: Pick<FiringRecord, 'source' | 'status' | 'reason'> & { scheduledAt?: Date },
  ): Promise<FiringRecord> {
    const firing: FiringRecord = {
      id: randomId('fir_'),
      trigger: trigger.id,
      owner: trigger.owner,
      at: this.#now().toISOString(),
      scheduledAt: fields.scheduledAt?.toISOString() ?? null,
      source: fields.source,
      key: null,
      status: fields.status,
      reason: fields.reason,
      ticket: null,
      plan: null,
      payload: null,
    };
    await this.#options.repository.insertFiring(firing);
    return firing;
  }

  async #fire(triggerId: string, input: FiringInput): Promise<FiringRecord> {
    const { repository } = this.#options;
    // Read again inside the queue: a pause or a removal meanwhile counts.
    const trigger = await repository.getTriggerById(triggerId);
    if (!trigger) throw new Error(`trigger ${triggerId} is gone`);
    const now = this.#now();
    const firing: FiringRecord = {
      id: randomId('fir_'),
      trigger: trigger.id,
      owner: trigger.owner,
      at: now.toISOString(),
      scheduledAt: input.scheduledAt?.toISOString() ?? null,
      source: input.source,
      key: null,
      status: 'skipped',
      reason: null,
      ticket: null,
      plan: null,
      payload: storedPayload(input.payload),
    };
    const values: TemplateValues = {
      payload: input.payload ?? null,
      event: input.event ?? null,
      trigger: { id: trigger.id, name: trigger.name, project: trigger.project },
      firing: {
        id: firing.id,
        at: firing.at,
        source: firing.source,
        scheduledAt: firing.scheduledAt,
      },
    };
    const outcome = await this.#decide(trigger, firing, values, input, now);
    Object.assign(firing, outcome);
    await repository.insertFiring(firing);
    await repository.updateTrigger(trigger.id, { lastFiredAt: firing.at, updatedAt: firing.at });
    if (firing.status === 'failed') {
      this.#options.log(
        `trigger ${trigger.id} (${trigger.owner}/${trigger.name}): firing failed: ${firing.reason}`,
      );
    }
    return firing;
  }

  async #decide(
    trigger: TriggerRecord,
    firing: FiringRecord,
    values: TemplateValues,
    input: FiringInput,
    now: Date,
  ): Promise<Partial<FiringRecord>> {
    const { repository, tickets, plans } = this.#options;
    if (trigger.paused) return { status: 'skipped', reason: 'the trigger is paused' };
    const key = trigger.spec.dedupeKey ? render(trigger.spec.dedupeKey, values, 1000) : null;
    firing.key = key || null;
    if (firing.key) {
      const merged = await this.#merge(trigger, firing, firing.key, input);
      if (merged) return merged;
    }
    const recentCreated = await repository.listFirings({
      trigger: trigger.id,
      status: 'created',
      limit: recentFiringsLooked,
    });
    const recent = await Promise.all(
      recentCreated.map(async (each) => ({
        firing: each,
        work: await workOf(each, tickets, plans),
      })),
    );
    const limits = checkLimits(trigger, input.source, recent, now);
    if (limits.reason) return { status: 'skipped', reason: limits.reason };
    try {
      const template = parseTriggerTemplate(trigger.spec.template, trigger.project);
      const { title, request } = renderTemplate(template, values);
      if (trigger.spec.creates === 'plan') {
        if (!plans) return { status: 'failed', reason: 'this server has no plans' };
        const plan = await plans.create(trigger.owner, {
          project: trigger.project,
          request: `${title}\n\n${request}`,
          auto: true,
          autoApprove: trigger.spec.autoApprove,
          ...(template.model && { model: template.model }),
          ...(limits.remainingUsd !== null && { budget: { maxCostUsd: limits.remainingUsd } }),
        });
        return { status: 'created', plan: plan.id, reason: null };
      }
      const templateCap = template.budget?.maxCostUsd;
      const maxCostUsd =
        limits.remainingUsd === null
          ? templateCap
          : Math.min(templateCap ?? Number.POSITIVE_INFINITY, limits.remainingUsd);
      const budget = { ...template.budget, ...(maxCostUsd !== undefined && { maxCostUsd }) };
      const ticket = await tickets.create(trigger.owner, {
        project: trigger.project,
        title,
        request,
        criteria: template.criteria,
        ...(template.role && { role: template.role }),
        ...(template.model && { model: template.model }),
        ...(Object.keys(budget).length > 0 && { budget }),
        run: true,
      });
      return { status: 'created', ticket: ticket.id, reason: null };
    } catch (error) {
      return { status: 'failed', reason: (error as Error).message };
    }
  }

  /** Posts the payload on the open ticket of the same key; undefined when there is none. */
  async #merge(
    trigger: TriggerRecord,
    firing: FiringRecord,
    key: string,
    input: FiringInput,
  ): Promise<Partial<FiringRecord> | undefined> {
    const { repository, tickets, plans } = this.#options;
    const same = await repository.listFirings({ trigger: trigger.id, key, limit: 20 });
    for (const earlier of same) {
      if (earlier.status !== 'created' && earlier.status !== 'merged') continue;
      const work = await workOf(earlier, tickets, plans);
      if (!work?.open) continue;
      if (!earlier.ticket) {
        return {
          status: 'merged',
          plan: earlier.plan,
          reason: `plan ${earlier.plan} of the same key is still open`,
        };
      }
      const payload = JSON.stringify(input.payload ?? null, null, 2) ?? 'null';
      const text = `Trigger ${trigger.name} fired again with the same key ${JSON.stringify(key)} (${firing.source}, ${firing.id}). Its payload:\n${payload.slice(0, maxCommentPayloadChars)}`;
      try {
        await tickets.comment(trigger.owner, earlier.ticket, {
          author: `trigger:${trigger.name}`,
          text,
        });
      } catch {
        continue; // it closed meanwhile: this firing creates its own
      }
      return {
        status: 'merged',
        ticket: earlier.ticket,
        reason: `merged into the open ticket ${earlier.ticket} of the same key (its payload posted as a comment)`,
      };
    }
    return undefined;
  }
}

function storedPayload(payload: unknown): unknown {
  if (payload === undefined || payload === null) return null;
  const json = JSON.stringify(payload);
  if (json === undefined) return null;
  const bytes = Buffer.byteLength(json);
  return bytes <= maxStoredPayloadBytes ? payload : { truncated: true, bytes };
}
