import type { FiringSource } from '../api/triggers.ts';
import { randomId } from '../config/random-id.ts';
import { ConflictError, MagsError } from '../errors/mags-error.ts';
import type { FiringRecord, StateRepository, TriggerRecord } from '../state/state-repository.ts';
import { triggerNotFound } from './trigger-errors.ts';
import { createWork, findOpenOfKey, mergeInto, type WorkDecision } from './trigger-firing-work.ts';
import { checkLimits, loopReason, stillActive } from './trigger-limits.ts';
import { render, type TemplateValues } from './trigger-template.ts';
import { type TriggerPlans, type TriggerTickets, workOf } from './trigger-work.ts';

/** What set a trigger off. */
export interface FiringInput {
  source: FiringSource;
  payload?: unknown;
  /** An event's facts, for `{{event.…}}` (its type and its payload). */
  event?: unknown;
  /** A schedule's time it fires for. */
  scheduledAt?: Date;
  /** The chain of triggers whose work set this event off (an event on a trigger's ticket). */
  origin?: readonly string[];
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
/** Decisions retried when another server stored a firing of the same trigger meanwhile. */
const maxClaimAttempts = 5;

/**
 * One firing of a trigger, from start to its record: paused, a loop or a limit refuses it
 * (`skipped`), a key matching a firing whose work is still open merges it into that ticket as a
 * comment (`merged`), otherwise a ticket (run at once) or a plan (auto) is created from the
 * template (`created`, or `failed` with the reason). What is decided from the trigger's state is
 * stored with a compare-and-set of its version (claimFiring) before any work is made: a second
 * server that decided on the same state decides again, so two never both pass a limit only one
 * fits, and a scheduled time is fired by one server. In this process firings of one trigger also
 * run one at a time.
 */
export class TriggerFirer {
  readonly #options: TriggerFirerOptions;
  readonly #now: () => Date;
  readonly #tails = new Map<string, Promise<unknown>>();

  constructor(options: TriggerFirerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** The firing as stored; undefined when its scheduled time was another server's already. */
  fire(trigger: TriggerRecord, input: FiringInput): Promise<FiringRecord | undefined> {
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

  /** Records a firing that did nothing (a schedule's missed times), claiming its scheduled time. */
  async record(
    trigger: TriggerRecord,
    fields: Pick<FiringRecord, 'source' | 'status' | 'reason'> & { scheduledAt?: Date },
  ): Promise<FiringRecord | undefined> {
    const { repository } = this.#options;
    for (let attempt = 1; ; attempt++) {
      const current = await repository.getTriggerById(trigger.id);
      if (!current) throw triggerNotFound(trigger.id);
      const firing: FiringRecord = {
        ...this.#newFiring(current, fields, this.#now()),
        status: fields.status,
        reason: fields.reason,
      };
      const claim = await repository.claimFiring(firing, {
        version: current.version,
        scheduledAt: firing.scheduledAt,
      });
      if ('claimed' in claim) return claim.claimed;
      if (claim.conflict === 'taken') return undefined;
      if (attempt >= maxClaimAttempts) throw contended(current);
    }
  }

  async #fire(triggerId: string, input: FiringInput): Promise<FiringRecord | undefined> {
    const { repository } = this.#options;
    for (let attempt = 1; ; attempt++) {
      // Read again inside the queue: a pause or a removal meanwhile counts.
      const trigger = await repository.getTriggerById(triggerId);
      if (!trigger) throw triggerNotFound(triggerId);
      const now = this.#now();
      const firing = this.#newFiring(trigger, input, now);
      const decision = await this.#decide(trigger, firing, input).catch(
        (error: unknown): WorkDecision => ({ fields: { status: 'failed', reason: why(error) } }),
      );
      Object.assign(firing, decision.fields);
      const claim = await repository.claimFiring(firing, {
        version: trigger.version,
        scheduledAt: firing.scheduledAt,
      });
      if ('conflict' in claim) {
        if (claim.conflict === 'taken') return undefined;
        if (attempt >= maxClaimAttempts) throw contended(trigger);
        continue;
      }
      const stored = claim.claimed;
      if (decision.afterClaim) {
        const done = await decision.afterClaim(stored).catch(
          (error: unknown): Partial<FiringRecord> => ({
            status: 'failed',
            reason: why(error),
            active: false,
          }),
        );
        Object.assign(stored, done);
        await repository.updateFiring(stored.id, done);
      }
      if (stored.status === 'failed') {
        this.#options.log(
          `trigger ${trigger.id} (${trigger.owner}/${trigger.name}): firing failed: ${stored.reason}`,
        );
      }
      return stored;
    }
  }

  #newFiring(
    trigger: TriggerRecord,
    input: Pick<FiringInput, 'source' | 'payload' | 'scheduledAt' | 'origin'>,
    now: Date,
  ): FiringRecord {
    return {
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
      chain: [...(input.origin ?? []), trigger.id],
      repeats: 1,
      reservedUsd: null,
      active: false,
    };
  }

  async #decide(
    trigger: TriggerRecord,
    firing: FiringRecord,
    input: FiringInput,
  ): Promise<WorkDecision> {
    const { repository, tickets, plans } = this.#options;
    // A manual firing is a test-fire: it works while paused (as cron's manual run).
    if (trigger.paused && input.source !== 'manual') {
      return { fields: { status: 'skipped', reason: 'the trigger is paused' } };
    }
    const loop = loopReason(trigger, input.origin ?? []);
    if (loop) return { fields: { status: 'skipped', reason: loop } };
    const values: TemplateValues = {
      payload: input.payload ?? null,
      event: input.event ?? null,
      trigger: { id: trigger.id, name: trigger.name, project: trigger.project },
      firing: {
        id: firing.id,
        at: firing.at,
        source: firing.source,
        scheduledAt: firing.scheduledAt ?? firing.at,
      },
    };
    const key = trigger.spec.dedupeKey ? render(trigger.spec.dedupeKey, values, 1000) : null;
    firing.key = key || null;
    if (firing.key) {
      const open = await findOpenOfKey(trigger, firing.key, this.#options);
      if (open) return mergeInto(open, trigger, firing, input.payload, this.#options);
    }
    const dayStart = new Date(firing.at.slice(0, 10)).toISOString();
    const counted = await Promise.all(
      (await repository.countedFirings(trigger.id, dayStart)).map(async (each) => {
        const work = await workOf(each, tickets, plans);
        const counting = { firing: each, work };
        // Its work finished: later checks need not look it up again.
        if (each.active && (each.ticket || each.plan) && !stillActive(counting)) {
          await repository.updateFiring(each.id, { active: false });
        }
        return counting;
      }),
    );
    const limits = checkLimits(trigger, input.source, counted, new Date(firing.at));
    if (limits.reason) return { fields: { status: 'skipped', reason: limits.reason } };
    return createWork(trigger, values, limits.remainingUsd, this.#options);
  }
}

/** A failure's reason as stored with its firing: the message, then what to do (its hint). */
function why(error: unknown): string {
  const message = (error as Error).message;
  const hint = error instanceof MagsError ? error.hint : undefined;
  return hint ? `${message} (${hint})` : message;
}

function contended(trigger: TriggerRecord): ConflictError {
  return new ConflictError(`Trigger ${trigger.name} is being fired by another server: try again.`, {
    code: 'trigger_contended',
    hint: 'Fire it again in a moment; each firing is decided on its latest state.',
  });
}

/** The payload as stored with its firing: a large (or unserialisable) one only as its size. */
function storedPayload(payload: unknown): unknown {
  if (payload === undefined || payload === null) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch {
    return { truncated: true, bytes: null };
  }
  if (json === undefined) return null;
  const bytes = Buffer.byteLength(json);
  return bytes <= maxStoredPayloadBytes ? payload : { truncated: true, bytes };
}
