/**
 * Plans (GUIDE §5, issue 13): a request to a project becomes a plan of tickets, each with its
 * own acceptance criteria and dependencies on other tickets of the plan (a DAG). A planner model
 * writes it (or a person does); it is data, shown and editable until approved. Approved, its
 * ready tickets run in parallel, each in its own sandbox and workspace; a ticket whose
 * dependencies are approved starts from their merged commits. When every ticket is approved the
 * results are merged in order into an integration workspace, the project's tests run there, and
 * the plan gets evidence of its own; approving that makes one branch `mags/plan-<id>`.
 */
import { z } from '@hono/zod-openapi';
import { ModelIdSchema, ProjectNameSchema, RoleNameSchema } from './projects.ts';
import {
  BudgetSchema,
  CriterionResultSchema,
  CriterionSchema,
  EvidenceSchema,
  storedText,
  TicketEventSchema,
  TicketIdSchema,
  TicketStatusSchema,
  TokenUsageSchema,
} from './tickets.ts';

export const PlanIdSchema = z
  .string()
  .regex(/^pln_[A-Za-z0-9_-]{1,40}$/, 'not a plan id')
  .openapi({ param: { name: 'id', in: 'path' }, example: 'pln_7Hc2kQm9ZpXw' });

/** A ticket's name inside its plan, what `dependsOn` refers to: `api-endpoint`, `t1`. */
export const PlanTicketKeySchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,39}$/,
    'a ticket key is 1-40 lowercase letters, digits and dashes, starting with a letter or digit',
  );

/**
 * `planning` (the planner model is writing it) → `draft` (shown, editable, waiting for
 * approval) → `running` (tickets dispatched) → `integrating` (every ticket approved: merged and
 * tested) → `awaiting_review` → `approved` (branch `mags/plan-<id>`) | `closed`. `blocked`: no
 * ticket can make progress until a person acts (a failed, stopped or closed ticket, a merge
 * conflict), the reason names which; `failed`: the planner gave up or a budget ran out;
 * `stopped`: a person stopped it. `mags plan retry` takes a blocked or stopped plan back to
 * `running`.
 */
export const planStatuses = [
  'planning',
  'draft',
  'running',
  'integrating',
  'awaiting_review',
  'approved',
  'blocked',
  'failed',
  'stopped',
  'closed',
] as const;
export const PlanStatusSchema = z.enum(planStatuses);
export type PlanStatus = z.infer<typeof PlanStatusSchema>;

/** One ticket as the plan describes it: what the planner writes and a person edits. */
export const PlanTicketSpecSchema = z
  .strictObject({
    key: PlanTicketKeySchema,
    title: storedText(500),
    request: storedText(200_000),
    criteria: z.array(CriterionSchema).min(1, 'a ticket needs at least one criterion').max(100),
    role: RoleNameSchema.optional(),
    model: ModelIdSchema.optional(),
    budget: BudgetSchema.optional(),
    /** Keys of tickets of this plan whose approved results this one starts from. */
    dependsOn: z.array(PlanTicketKeySchema).max(50).default([]),
  })
  .openapi('PlanTicketSpec');
export type PlanTicketSpec = z.infer<typeof PlanTicketSpecSchema>;
export type PlanTicketSpecInput = z.input<typeof PlanTicketSpecSchema>;

/** At most this many tickets in one plan. */
export const maxPlanTickets = 50;

/**
 * The planner's structured output (also what `mags plan edit` writes back). Keys unique,
 * every `dependsOn` a key of the plan, no cycle: checked by `checkPlanGraph` with a clear error.
 */
export const PlanSpecSchema = z
  .strictObject({
    summary: storedText(10_000),
    tickets: z
      .array(PlanTicketSpecSchema)
      .min(1, 'a plan needs at least one ticket')
      .max(maxPlanTickets),
  })
  .openapi('PlanSpec');
export type PlanSpec = z.infer<typeof PlanSpecSchema>;

/**
 * Where one ticket of an approved plan is: `waiting` for its dependencies, `merging` their
 * results into its fresh workspace, `dispatched` (its ticket's own status says the rest),
 * `blocked` (a dependency failed, was stopped or closed, or conflicted: `reason` says which) or
 * `conflict` (its dependencies' results conflict: `conflictFiles`). Before approval: `pending`.
 */
export const planTicketStates = [
  'pending',
  'waiting',
  'merging',
  'dispatched',
  'blocked',
  'conflict',
] as const;
export const PlanTicketStateSchema = z.enum(planTicketStates);
export type PlanTicketState = z.infer<typeof PlanTicketStateSchema>;

export const PlanTicketSchema = PlanTicketSpecSchema.extend({
  state: PlanTicketStateSchema,
  reason: z.string().nullable(),
  /** Its ticket (created as a draft when the plan is approved), then its status and usage. */
  ticket: TicketIdSchema.nullable(),
  ticketStatus: TicketStatusSchema.nullable(),
  usage: TokenUsageSchema,
  /** Files both sides of a merge changed, when `state` is `conflict`. */
  conflictFiles: z.array(z.string()),
  /**
   * Retried to resolve its conflict: its next merge keeps the conflicting files (with git's
   * markers) and its ticket starts there with resolving them as its first task.
   */
  resolveConflicts: z.boolean().optional(),
  /**
   * When `state` is `blocked` because of a dependency (directly or through a chain): the key of
   * the dead end that blocks it (a retry of that one unblocks it); `reason` says it in words.
   */
  blockedBy: PlanTicketKeySchema.nullable().optional(),
}).openapi('PlanTicket');
export type PlanTicket = z.infer<typeof PlanTicketSchema>;

/** Limits on the whole plan, over its tickets' own budgets. */
export const PlanBudgetSchema = z
  .strictObject({
    maxTokens: z.number().int().min(1).optional(),
    maxCostUsd: z.number().positive().optional(),
    /** From approval to the end of the integration. */
    maxWallMs: z
      .number()
      .int()
      .min(1000)
      .max(30 * 24 * 3600 * 1000)
      .optional(),
  })
  .openapi('PlanBudget');
export type PlanBudget = z.infer<typeof PlanBudgetSchema>;

/** Where the plan's results were merged and tested. */
export const PlanIntegrationSchema = z.object({
  workspace: z.string(),
  commit: z.string(),
  tree: z.string().nullable(),
});
export type PlanIntegration = z.infer<typeof PlanIntegrationSchema>;

export const PlanSchema = z
  .object({
    id: PlanIdSchema,
    project: ProjectNameSchema,
    request: z.string(),
    summary: z.string().nullable(),
    status: PlanStatusSchema,
    reason: z.string().nullable(),
    /** The planner model asked for (null: the project's, then the server's default). */
    model: ModelIdSchema.nullable(),
    /** Approve the plan as soon as it is written (`--auto`). */
    auto: z.boolean(),
    /** Approve each ticket whose criteria are all verified met (and tests pass) without a person. */
    autoApprove: z.boolean(),
    /** At most this many of its tickets queued or running at once. */
    maxParallel: z.number().int().min(1).max(32),
    budget: PlanBudgetSchema,
    /** Its tickets' usage summed, planner included. */
    usage: TokenUsageSchema,
    tickets: z.array(PlanTicketSchema),
    /** The project commit when it was approved: what the integration's diff is taken against. */
    baseCommit: z.string().nullable(),
    /** The integration workspace, commit and tree once every ticket is approved and merged. */
    integration: PlanIntegrationSchema.nullable(),
    /** After approval: `mags/plan-<id>` and its commit in the project's repository. */
    branch: z.string().nullable(),
    commit: z.string().nullable(),
    approvedAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Plan');
export type Plan = z.infer<typeof PlanSchema>;

// Kept apart from the schemas so that clients (the SDK, the dashboard) load it without zod.
export { isPlanMoving } from './plan-moving.ts';

export const PlanListQuerySchema = z.object({
  project: ProjectNameSchema.openapi({ param: { name: 'project', in: 'query' } }).optional(),
  status: PlanStatusSchema.optional(),
  /**
   * `true`: Server-Sent Events instead of JSON: a `plans` event with the list, then a `plan`
   * event with a plan's snapshot whenever one of them changes status, progress or usage.
   */
  follow: z.enum(['true', 'false']).optional(),
});

/** `GET /v1/plans/{id}/events`: as a ticket's, and `after=latest` starts after the newest. */
export const PlanEventsQuerySchema = z.object({
  after: z
    .union([z.literal('latest'), z.coerce.number().int().min(0)])
    .optional()
    .openapi({
      description:
        "Events after this id (SSE's Last-Event-ID header does the same); `latest`: only " +
        'events stored from now on (a client that read the plan and follows what comes next).',
    }),
  follow: z.enum(['true', 'false']).optional(),
});
export const PlanListSchema = z.object({ plans: z.array(PlanSchema) }).openapi('PlanList');

export const CreatePlanBodySchema = z
  .strictObject({
    project: ProjectNameSchema,
    request: storedText(200_000),
    model: ModelIdSchema.optional(),
    auto: z.boolean().optional(),
    autoApprove: z.boolean().optional(),
    maxParallel: z.number().int().min(1).max(32).optional(),
    budget: PlanBudgetSchema.optional(),
    /** A plan written by hand: no planner runs, the plan is a draft at once (or running with `auto`). */
    spec: PlanSpecSchema.optional(),
  })
  .openapi('CreatePlanRequest');
export type CreatePlanBody = z.infer<typeof CreatePlanBodySchema>;

/**
 * `PUT /v1/plans/{id}/spec`: the whole plan replaced (a draft only), checked as the planner's is.
 * `ifUpdatedAt`: the plan's `updatedAt` as the editor read it; a plan changed since is a 409
 * `plan_changed` (two people editing one draft do not overwrite each other unseen).
 */
export const EditPlanBodySchema = PlanSpecSchema.extend({
  ifUpdatedAt: z.string().min(1).max(100).optional(),
}).openapi('EditPlanRequest');
export type EditPlanBody = z.infer<typeof EditPlanBodySchema>;

/** `POST /v1/plans/{id}/retry`: a ticket of it, by key or ticket id. */
export const RetryPlanTicketBodySchema = z
  .strictObject({
    ticket: z.string().min(1).max(100),
    budget: BudgetSchema.optional(),
    /**
     * A ticket in conflict: start it from the conflicting merge, resolving the conflict as its
     * first task (the default); false merges again as before.
     */
    resolve: z.boolean().optional(),
  })
  .openapi('RetryPlanTicketRequest');

export const PlanEventDataSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('plan_status'),
    from: PlanStatusSchema.nullable(),
    to: PlanStatusSchema,
    reason: z.string().nullable(),
  }),
  /** The planner's try: what it returned was refused and why (it is asked again), or accepted. */
  z.object({
    type: z.literal('planner'),
    attempt: z.number().int().min(1),
    accepted: z.boolean(),
    message: z.string(),
  }),
  z.object({
    type: z.literal('ticket_state'),
    key: PlanTicketKeySchema,
    ticket: TicketIdSchema.nullable(),
    from: PlanTicketStateSchema.nullable(),
    to: PlanTicketStateSchema,
    reason: z.string().nullable(),
  }),
  /** One of the plan's tickets' own events (its status changes included), as stored there. */
  z.object({
    type: z.literal('ticket_event'),
    key: PlanTicketKeySchema,
    ticket: TicketIdSchema,
    event: TicketEventSchema,
  }),
  z.object({
    type: z.literal('merge'),
    /** The ticket whose workspace it made; null for the integration. */
    key: PlanTicketKeySchema.nullable(),
    commits: z.array(z.string()),
    result: z.enum(['merged', 'conflict']),
    files: z.array(z.string()),
  }),
  z.object({ type: z.literal('usage'), total: TokenUsageSchema }),
  z.object({ type: z.literal('notice'), message: z.string() }),
]);
export type PlanEventData = z.infer<typeof PlanEventDataSchema>;

export const PlanEventSchema = z
  .object({
    /** Increasing per plan from 1; SSE's `id`, to resume after. */
    id: z.number().int().min(1),
    at: z.string(),
    data: PlanEventDataSchema,
  })
  .openapi('PlanEvent');
export type PlanEvent = z.infer<typeof PlanEventSchema>;

/** What the integration shows a reviewer: the combined result and every ticket's verified criteria. */
export const PlanEvidenceSchema = z
  .object({
    plan: PlanIdSchema,
    baseCommit: z.string(),
    /** The integration commit: every ticket's approved commit merged in `mergeOrder`. */
    commit: z.string(),
    tree: z.string().nullable(),
    mergeOrder: z.array(PlanTicketKeySchema),
    diff: z.string(),
    diffStat: EvidenceSchema.shape.diffStat,
    tests: EvidenceSchema.shape.tests,
    tickets: z.array(
      z.object({
        key: PlanTicketKeySchema,
        ticket: TicketIdSchema,
        title: z.string(),
        commit: z.string().nullable(),
        /** Its criteria as verified on the integration (every result merged). */
        criteria: z.array(CriterionResultSchema),
        /** As its own latest evidence verified them in its workspace: history beside the above. */
        ticketCriteria: z.array(CriterionResultSchema).optional(),
        usage: TokenUsageSchema,
      }),
    ),
    usage: TokenUsageSchema,
    startedAt: z.string(),
    finishedAt: z.string(),
    durationMs: z.number(),
  })
  .openapi('PlanEvidence');
export type PlanEvidence = z.infer<typeof PlanEvidenceSchema>;
