import {
  type CreateTriggerBody,
  CreateTriggerBodySchema,
  defaultMaxFiringsPerDay,
  type TriggerKind,
} from '../api/triggers.ts';
import { randomId } from '../config/random-id.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import type { FiringRecord, StateRepository, TriggerRecord } from '../state/state-repository.ts';
import { triggerExists, triggerNotFound } from './trigger-errors.ts';
import { TriggerEvents, type TriggerJobs } from './trigger-events.ts';
import { TriggerFirer } from './trigger-firing.ts';
import { ticketBody } from './trigger-firing-work.ts';
import { TriggerSchedules } from './trigger-schedules.ts';
import {
  checkTriggerCount,
  checkTriggerSchedule,
  type TriggerSettings,
  triggerSettings,
} from './trigger-settings.ts';
import { checkKeyTemplate, parseTriggerTemplate, type TemplateValues } from './trigger-template.ts';
import type { TriggerPlans, TriggerTickets } from './trigger-work.ts';
import { receiveWebhook, type WebhookRequest } from './webhook-delivery.ts';
import { newWebhookSecret } from './webhook-signature.ts';

export interface TriggerManagerOptions {
  repository: StateRepository;
  tickets: TriggerTickets;
  /** `job.failed` triggers hear of jobs through it. */
  jobs?: TriggerJobs;
  /** Without it, `creates: 'plan'` is refused when the trigger is added. */
  plans?: TriggerPlans;
  /** The trigger's project must be the owner's (a 404 otherwise), checked when it is added. */
  projects?: { get(owner: string, name: string): Promise<unknown> };
  log?: (line: string) => void;
  now?: () => Date;
  /** Per-owner limits (default: the MAGS_TRIGGER_* variables of `environment`, then trigger-settings.ts). */
  settings?: Partial<TriggerSettings>;
  environment?: NodeJS.ProcessEnv;
  /** Owners whose schedules any interval may name (the host's own `local`, as for cron). */
  unlimited?: (owner: string) => boolean;
}

/**
 * Background agents (issue 13 part 5): triggers that create a ticket (or a plan) from a template
 * on a schedule, a signed webhook or an event, within their own limits, and run it unattended;
 * the results wait for review unless the trigger approves what is verified. Another owner's
 * trigger is a 404, like a missing one. `start` arms the schedules and listens to the events;
 * `stop` stops them (the server's shutdown).
 */
export class TriggerManager {
  readonly #repository: StateRepository;
  readonly #plans: TriggerPlans | undefined;
  readonly #tickets: TriggerTickets;
  readonly #projects: TriggerManagerOptions['projects'];
  readonly #now: () => Date;
  readonly #firer: TriggerFirer;
  readonly #schedules: TriggerSchedules;
  readonly #events: TriggerEvents;
  readonly #settings: TriggerSettings;
  readonly #unlimited: (owner: string) => boolean;
  #started = false;

  constructor(options: TriggerManagerOptions) {
    const log = options.log ?? ((line) => process.stderr.write(`mags server: ${line}\n`));
    this.#repository = options.repository;
    this.#plans = options.plans;
    this.#tickets = options.tickets;
    this.#projects = options.projects;
    this.#now = options.now ?? (() => new Date());
    this.#settings = triggerSettings(options.settings, options.environment);
    this.#unlimited = options.unlimited ?? (() => false);
    this.#firer = new TriggerFirer({
      repository: options.repository,
      tickets: options.tickets,
      plans: options.plans,
      log,
      now: this.#now,
    });
    this.#schedules = new TriggerSchedules({
      repository: options.repository,
      firer: this.#firer,
      log,
      now: this.#now,
    });
    this.#events = new TriggerEvents({
      repository: options.repository,
      tickets: options.tickets,
      jobs: options.jobs,
      firer: this.#firer,
      log,
    });
  }

  /**
   * A new trigger, checked whole before it is stored: the template (placeholders only in the
   * title and request), the schedule, the dedupe key. A webhook trigger's secret is returned
   * here, once.
   */
  async add(
    owner: string,
    input: CreateTriggerBody,
  ): Promise<{ trigger: TriggerRecord; secret: string | null }> {
    const parsed = CreateTriggerBodySchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidInputError(`${issue?.path.join('.') || 'trigger'}: ${issue?.message}`);
    }
    const body = parsed.data;
    await this.#projects?.get(owner, body.project);
    parseTriggerTemplate(body.template, body.project);
    if (body.dedupeKey) checkKeyTemplate(body.dedupeKey);
    if (body.schedule) {
      const schedule = checkTriggerSchedule(body.schedule, {
        minIntervalSeconds: this.#unlimited(owner) ? 0 : this.#settings.minIntervalSeconds,
        now: this.#now(),
      });
      // As Intl spells it (`europe/berlin` → `Europe/Berlin`).
      body.schedule = { ...body.schedule, timezone: schedule.timezone };
    }
    checkTriggerCount((await this.#repository.listTriggers({ owner })).length, this.#settings);
    if (body.creates === 'plan' && !this.#plans) {
      throw new InvalidInputError('This server cannot create plans from triggers.', {
        code: 'plans_unavailable',
        hint: 'Leave out creates: plan (--creates plan): the trigger creates a ticket.',
      });
    }
    await this.#checkWork(owner, { name: body.name, project: body.project, spec: body });
    const kind: TriggerKind = body.schedule ? 'schedule' : body.webhook ? 'webhook' : 'event';
    const secret = kind === 'webhook' ? newWebhookSecret() : null;
    const at = this.#now().toISOString();
    const record: TriggerRecord = {
      id: randomId('trg_'),
      owner,
      name: body.name,
      project: body.project,
      kind,
      spec: {
        creates: body.creates,
        template: body.template,
        schedule: body.schedule ?? null,
        event: body.event ?? null,
        allowOverlap: body.allowOverlap,
        maxConcurrent: body.maxConcurrent,
        dailyBudgetUsd: body.dailyBudgetUsd,
        maxFiringsPerDay:
          body.maxFiringsPerDay === undefined
            ? kind === 'schedule'
              ? null
              : defaultMaxFiringsPerDay
            : body.maxFiringsPerDay,
        autoApprove: body.autoApprove,
        dedupeKey: body.dedupeKey,
      },
      secret,
      paused: false,
      lastFiredAt: null,
      nextFireAt: null,
      version: 0,
      lastScheduledAt: null,
      createdAt: at,
      updatedAt: at,
    };
    if (!(await this.#repository.insertTrigger(record))) throw triggerExists(body.name);
    if (kind === 'schedule' && this.#started) await this.#schedules.arm(record);
    return { trigger: await this.get(owner, record.id), secret };
  }

  list(owner: string): Promise<TriggerRecord[]> {
    return this.#repository.listTriggers({ owner });
  }

  /** By id or name. */
  async get(owner: string, ref: string): Promise<TriggerRecord> {
    const record = await this.#repository.findTrigger(owner, ref);
    if (!record) throw triggerNotFound(ref);
    return record;
  }

  /** Its firings, newest first. */
  async firings(owner: string, ref: string, limit = 50): Promise<FiringRecord[]> {
    const trigger = await this.get(owner, ref);
    return this.#repository.listFirings({ trigger: trigger.id, limit });
  }

  /**
   * Paused: a schedule stops; a webhook or event firing is recorded as skipped. A manual `fire`
   * still works (a test-fire), as cron's manual run does while paused.
   */
  async pause(owner: string, ref: string): Promise<TriggerRecord> {
    const trigger = await this.get(owner, ref);
    this.#schedules.disarm(trigger.id);
    await this.#repository.updateTrigger(trigger.id, {
      paused: true,
      nextFireAt: null,
      updatedAt: this.#now().toISOString(),
    });
    return this.get(owner, trigger.id);
  }

  /**
   * Resumed: a schedule goes on from now (the times it was paused are not missed times). Its
   * ticket is checked again first: a model or key gone meanwhile is said now, not per firing.
   */
  async resume(owner: string, ref: string): Promise<TriggerRecord> {
    const trigger = await this.get(owner, ref);
    await this.#checkWork(owner, trigger);
    await this.#repository.updateTrigger(trigger.id, {
      paused: false,
      updatedAt: this.#now().toISOString(),
    });
    const resumed = await this.get(owner, trigger.id);
    if (resumed.kind === 'schedule' && this.#started) await this.#schedules.arm(resumed);
    return this.get(owner, trigger.id);
  }

  /**
   * A webhook trigger's new secret, returned this once; the old one stops at once (deliveries
   * signed with it are refused). Its URL stays the same.
   */
  async rotateSecret(
    owner: string,
    ref: string,
  ): Promise<{ trigger: TriggerRecord; secret: string }> {
    const trigger = await this.get(owner, ref);
    if (trigger.kind !== 'webhook') {
      throw new InvalidInputError(`Trigger ${trigger.name} is not a webhook: it has no secret.`, {
        code: 'not_a_webhook',
        hint: 'Only a webhook trigger (--webhook) signs deliveries with a secret.',
      });
    }
    const secret = newWebhookSecret();
    await this.#repository.updateTrigger(trigger.id, {
      secret,
      updatedAt: this.#now().toISOString(),
    });
    return { trigger: await this.get(owner, trigger.id), secret };
  }

  /** Removes it and its history; the tickets and plans it created stay. */
  async remove(owner: string, ref: string): Promise<void> {
    const trigger = await this.get(owner, ref);
    this.#schedules.disarm(trigger.id);
    if (!(await this.#repository.deleteTrigger(owner, trigger.id))) throw triggerNotFound(ref);
  }

  /**
   * Throws what creating its ticket would (no model for the project, no key for the template's
   * model), with the same hint as `mags ticket create`: the template rendered from an empty
   * payload, so a trigger that could never create its work is refused when it is added, not
   * found out from its failed firings.
   */
  async #checkWork(
    owner: string,
    trigger: Pick<TriggerRecord, 'name' | 'project'> & {
      spec: Pick<TriggerRecord['spec'], 'creates' | 'template'>;
    },
  ): Promise<void> {
    if (trigger.spec.creates !== 'ticket' || !this.#tickets.check) return;
    const template = parseTriggerTemplate(trigger.spec.template, trigger.project);
    const at = this.#now().toISOString();
    const values: TemplateValues = {
      payload: {},
      event: {},
      trigger: { id: '', name: trigger.name, project: trigger.project },
      firing: { id: '', at, source: 'manual', scheduledAt: at },
    };
    await this.#tickets.check(owner, ticketBody(trigger, template, values, null));
  }

  /** A manual firing (a test-fire: it works while paused), through the same limits as any other. */
  async fire(owner: string, ref: string, payload?: unknown): Promise<FiringRecord> {
    const trigger = await this.get(owner, ref);
    return stored(await this.#firer.fire(trigger, { source: 'manual', payload }), trigger);
  }

  /** A webhook delivery (`POST /v1/hooks/{id}`, no token: its signature says it is the owner's). */
  async hook(id: string, request: WebhookRequest): Promise<FiringRecord> {
    const trigger = await this.#repository.getTriggerById(id);
    const payload = await receiveWebhook(trigger, request, this.#repository, this.#now());
    const firing = await this.#firer.fire(trigger as TriggerRecord, { source: 'webhook', payload });
    return stored(firing, trigger as TriggerRecord);
  }

  /** Arms the schedules (recording what was missed while the server was down) and listens to events. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#events.start();
    await this.#schedules.start();
  }

  /** Resolves when what the events so far set off (firings, automatic approvals) is done. */
  settled(): Promise<void> {
    return this.#events.settled();
  }

  /** Stops the timers and the listeners (the server is going away). */
  async stop(): Promise<void> {
    this.#started = false;
    this.#schedules.stop();
    this.#events.stop();
    await this.#events.settled();
  }
}

/** A firing that is not for a scheduled time is always stored (only those can be taken). */
function stored(firing: FiringRecord | undefined, trigger: TriggerRecord): FiringRecord {
  if (!firing) throw new Error(`trigger ${trigger.id}: an unscheduled firing was not stored`);
  return firing;
}
