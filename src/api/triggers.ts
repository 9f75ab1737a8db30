/**
 * Triggers (background agents, issue 13 part 5): a template of a ticket (or a plan) that fires on
 * a schedule, a signed webhook or an event, and creates work within its own limits. One set of
 * schemas for the API, the state records, the SDK's types and the CLI.
 */
import { z } from '@hono/zod-openapi';
import { ProjectNameSchema } from './projects.ts';
import { resourceName, WorkspaceNameSchema } from './run-options.ts';
import { withoutNul } from './text-without-nul.ts';

export const TriggerIdSchema = z
  .string()
  .regex(/^trg_[A-Za-z0-9_-]{1,40}$/, 'not a trigger id')
  .openapi({ example: 'trg_3kTMd9bX1VvJf2Qw' });

export const TriggerNameSchema = resourceName('trigger name')
  .max(63)
  .refine((value) => !value.startsWith('trg_'), 'a trigger name must not start with trg_')
  .openapi({ example: 'nightly-deps' });

/** A trigger in a path: its id (`trg_…`) or its name. */
export const TriggerRefSchema = z
  .string()
  .min(1)
  .max(100)
  .openapi({ param: { name: 'id', in: 'path' }, example: 'nightly-deps' });

export const FiringIdSchema = z
  .string()
  .regex(/^fir_[A-Za-z0-9_-]{1,40}$/, 'not a firing id')
  .openapi({ example: 'fir_3kTMd9bX1VvJf2Qw' });

/**
 * `catchUp`: what a restarted server does about the times it missed while down. `skip` records
 * one `missed` firing with their count; `once` fires one `catch_up` firing for them all.
 */
export const TriggerScheduleSchema = z
  .strictObject({
    cron: withoutNul(z.string().min(1).max(200)),
    timezone: withoutNul(z.string().min(1).max(100)).default('UTC'),
    catchUp: z.enum(['skip', 'once']).default('skip'),
  })
  .openapi('TriggerSchedule');
export type TriggerSchedule = z.infer<typeof TriggerScheduleSchema>;

export const triggerEventTypes = ['job.failed', 'ticket.approved'] as const;
export const TriggerEventSchema = z
  .discriminatedUnion('type', [
    /** A job of the owner failed; only on this workspace when one is named. */
    z.strictObject({ type: z.literal('job.failed'), workspace: WorkspaceNameSchema.optional() }),
    /** A ticket of the owner was approved; only of this project when one is named. */
    z.strictObject({ type: z.literal('ticket.approved'), project: ProjectNameSchema.optional() }),
  ])
  .openapi('TriggerEvent');
export type TriggerEvent = z.infer<typeof TriggerEventSchema>;

export const triggerKinds = ['schedule', 'webhook', 'event'] as const;
export type TriggerKind = (typeof triggerKinds)[number];

const limits = {
  /** A schedule's firing while its previous one's ticket still runs is skipped unless this. */
  allowOverlap: z.boolean().default(false),
  /** Its tickets queued or running at once; a firing over it is skipped. */
  maxConcurrent: z.number().int().min(1).max(100).default(1),
  /** What its firings of the day (UTC) may cost, in USD; null: no limit. */
  dailyBudgetUsd: z.number().positive().nullable().default(null),
  /**
   * Firings that create work per day (UTC); null: no limit. Left out, a webhook or event trigger
   * gets `defaultMaxFiringsPerDay` (a sender or a chain of events cannot flood), a schedule none.
   */
  maxFiringsPerDay: z.number().int().min(1).nullable().optional(),
  /** Approve its tickets when every criterion is verified met and the tests did not fail. */
  autoApprove: z.boolean().default(false),
  /**
   * A template (`{{payload.issue.number}}`): a firing whose key matches one whose ticket is still
   * open is merged into it (its payload posted as a comment) instead of creating another.
   */
  dedupeKey: withoutNul(z.string().min(1).max(1000)).nullable().default(null),
};

export const CreateTriggerBodySchema = z
  .strictObject({
    name: TriggerNameSchema,
    project: ProjectNameSchema,
    /** A ticket.md: YAML front matter (title, criteria, role, model, budget) and the request. */
    template: withoutNul(z.string().min(1).max(200_000)),
    creates: z.enum(['ticket', 'plan']).default('ticket'),
    schedule: TriggerScheduleSchema.optional(),
    webhook: z.literal(true).optional(),
    event: TriggerEventSchema.optional(),
    ...limits,
  })
  .refine((body) => [body.schedule, body.webhook, body.event].filter((each) => each).length === 1, {
    message: 'a trigger has exactly one of schedule, webhook or event',
    path: ['schedule'],
  })
  .openapi('CreateTriggerRequest');
export type CreateTriggerBody = z.input<typeof CreateTriggerBodySchema>;
export type CreateTriggerSpec = z.output<typeof CreateTriggerBodySchema>;

export const TriggerSchema = z
  .object({
    id: TriggerIdSchema,
    name: z.string(),
    project: ProjectNameSchema,
    kind: z.enum(triggerKinds),
    creates: z.enum(['ticket', 'plan']),
    template: z.string(),
    schedule: TriggerScheduleSchema.nullable(),
    event: TriggerEventSchema.nullable(),
    /** `/v1/hooks/{id}` for a webhook trigger; null otherwise. */
    hookPath: z.string().nullable(),
    allowOverlap: z.boolean(),
    maxConcurrent: z.number().int(),
    dailyBudgetUsd: z.number().nullable(),
    maxFiringsPerDay: z.number().int().nullable(),
    autoApprove: z.boolean(),
    dedupeKey: z.string().nullable(),
    paused: z.boolean(),
    lastFiredAt: z.string().nullable(),
    /** A schedule's next time (null when paused, or for other kinds). */
    nextFireAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Trigger');
export type Trigger = z.infer<typeof TriggerSchema>;

/** `POST /v1/triggers`: the trigger, and a webhook's secret, shown this once. */
export const CreatedTriggerSchema = z
  .object({ trigger: TriggerSchema, secret: z.string().nullable() })
  .openapi('CreatedTrigger');
export type CreatedTrigger = z.infer<typeof CreatedTriggerSchema>;

/** A webhook or event trigger's maxFiringsPerDay when none is given. */
export const defaultMaxFiringsPerDay = 100;

export const firingSources = ['schedule', 'webhook', 'event', 'manual', 'catch_up'] as const;
/**
 * `created`: a ticket or plan was made; `merged`: into an open ticket of the same key (as a
 * comment); `skipped`: a limit refused it (the reason says which); `failed`: creating it failed;
 * `missed`: scheduled times that passed while the server was down (catchUp skip).
 */
export const firingStatuses = ['created', 'merged', 'skipped', 'failed', 'missed'] as const;

export const TriggerFiringSchema = z
  .object({
    id: FiringIdSchema,
    trigger: TriggerIdSchema,
    at: z.string(),
    /** The schedule's time it fired for (null for other sources). */
    scheduledAt: z.string().nullable(),
    source: z.enum(firingSources),
    /** The rendered dedupe key (null without one). */
    key: z.string().nullable(),
    status: z.enum(firingStatuses),
    reason: z.string().nullable(),
    ticket: z.string().nullable(),
    plan: z.string().nullable(),
    /** The payload it fired with (a large one only as `{ truncated, bytes }`). */
    payload: z.unknown().nullable(),
    /** The triggers whose firings led to this one, oldest first, ending with this trigger. */
    chain: z.array(z.string()),
    /** Identical skipped firings folded into this one (`at` is the latest). */
    repeats: z.number().int(),
  })
  .openapi('TriggerFiring');
export type TriggerFiring = z.infer<typeof TriggerFiringSchema>;
export type FiringSource = TriggerFiring['source'];
export type FiringStatus = TriggerFiring['status'];

export const TriggerListSchema = z
  .object({ triggers: z.array(TriggerSchema) })
  .openapi('TriggerList');
export const FiringListSchema = z
  .object({ firings: z.array(TriggerFiringSchema) })
  .openapi('TriggerFiringList');
export const FiringListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** `POST /v1/triggers/{id}/fire`: a manual firing, with an optional payload for the template. */
export const FireTriggerBodySchema = z
  .strictObject({ payload: z.unknown().optional() })
  .openapi('FireTriggerRequest');

export const FiringResponseSchema = z
  .object({ firing: TriggerFiringSchema })
  .openapi('TriggerFiringResponse');

/** The headers of a signed webhook delivery (`POST /v1/hooks/{id}`). */
export const webhookHeaders = {
  signature: 'x-mags-signature',
  timestamp: 'x-mags-timestamp',
  delivery: 'x-mags-delivery',
} as const;
/** A delivery's timestamp may be this far from the server's clock, either way. */
export const webhookToleranceSeconds = 300;
/** The largest webhook body read. */
export const maxWebhookBodyBytes = 256 * 1024;
