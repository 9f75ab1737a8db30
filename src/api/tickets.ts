/**
 * Tickets (GUIDE §5): a request plus acceptance criteria, worked by an agent in its own sandbox
 * on its own fork of the project workspace; every step is an event; when the agent is done the
 * platform runs the checks and assembles the evidence a person reviews. One set of schemas for
 * the API, the state records, the SDK's types and the agent interface's events.
 */
import { z } from '@hono/zod-openapi';
import { ModelIdSchema, ProjectNameSchema, RoleNameSchema } from './projects.ts';
import { withoutNul } from './text-without-nul.ts';

export const TicketIdSchema = z
  .string()
  .regex(/^tkt_[A-Za-z0-9_-]{1,40}$/, 'not a ticket id')
  .openapi({ param: { name: 'id', in: 'path' }, example: 'tkt_3kTMd9bX1VvJf2Qw' });

/**
 * `draft → queued → running → awaiting_review → approved | changes_requested | closed`, plus
 * `failed` and `stopped` (each with a reason). `changes_requested` queues a new attempt.
 */
export const ticketStatuses = [
  'draft',
  'queued',
  'running',
  'awaiting_review',
  'approved',
  'changes_requested',
  'closed',
  'failed',
  'stopped',
] as const;
export const TicketStatusSchema = z.enum(ticketStatuses);
export type TicketStatus = z.infer<typeof TicketStatusSchema>;

export const CriterionSchema = z
  .strictObject({
    text: withoutNul(z.string().trim().min(1).max(10_000)),
    /** A command run in the ticket's sandbox (in /workspace) that must exit 0. */
    check: withoutNul(z.string().min(1).max(65_536)).optional(),
  })
  .openapi('Criterion');
export type Criterion = z.infer<typeof CriterionSchema>;

/** Every limit is optional; the server's defaults fill the gaps (`defaultTicketBudget`). */
export const BudgetSchema = z
  .strictObject({
    maxSteps: z.number().int().min(1).max(10_000).optional(),
    maxTokens: z.number().int().min(1).optional(),
    maxCostUsd: z.number().positive().optional(),
    maxWallMs: z
      .number()
      .int()
      .min(1000)
      .max(7 * 24 * 3600 * 1000)
      .optional(),
  })
  .openapi('Budget');
export type Budget = z.infer<typeof BudgetSchema>;

/**
 * Text a person or a planner writes that is stored as a column of its own (a title, a request):
 * trimmed, and without NUL (U+0000), which PostgreSQL's text cannot hold, so every state backend
 * takes the same texts.
 */
export const storedText = (maxLength: number) =>
  withoutNul(z.string().trim().min(1).max(maxLength));

export const CreateTicketBodySchema = z
  .strictObject({
    project: ProjectNameSchema,
    title: storedText(500),
    request: storedText(200_000),
    criteria: z.array(CriterionSchema).min(1, 'a ticket needs at least one criterion').max(100),
    role: RoleNameSchema.optional(),
    model: ModelIdSchema.optional(),
    budget: BudgetSchema.optional(),
    /** Queue it at once instead of leaving it a draft. */
    run: z.boolean().optional(),
  })
  .openapi('CreateTicketRequest');
export type CreateTicketBody = z.infer<typeof CreateTicketBodySchema>;

export const TokenUsageSchema = z.object({
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  costUsd: z.number().min(0),
  steps: z.number().int().min(0),
});
export type TokenUsage = z.infer<typeof TokenUsageSchema>;

export const TicketSchema = z
  .object({
    id: TicketIdSchema,
    project: ProjectNameSchema,
    title: z.string(),
    request: z.string(),
    criteria: z.array(CriterionSchema),
    role: RoleNameSchema,
    /** The model asked for; null: the role's, then the project's, then the server's default. */
    model: ModelIdSchema.nullable(),
    budget: BudgetSchema,
    status: TicketStatusSchema,
    /** Why it is in this status, in words (the budget hit, the provider's error, who stopped it). */
    reason: z.string().nullable(),
    /** Its own workspace `{ticket id}-{uuid}`, forked from the project's on the first run. */
    workspace: z.string().nullable(),
    /** The commit the workspace was forked at: what the diff is taken against. */
    baseCommit: z.string().nullable(),
    /**
     * The project's `setupTree` when the workspace was forked: the files as the setup left them,
     * which the evidence's diff is taken against (null: against `baseCommit`). Approving commits
     * only what changed since it, on `baseCommit`.
     */
    baseTree: z.string().nullable(),
    /** 1 for the first run; each `request-changes` starts the next. */
    attempt: z.number().int().min(0),
    usage: TokenUsageSchema,
    /** The plan it belongs to (`pln_…`), or null for a ticket of its own. */
    plan: z.string().nullable(),
    /** After approval: the branch `mags/<id>` and its commit in the project's repository. */
    branch: z.string().nullable(),
    commit: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Ticket');
export type Ticket = z.infer<typeof TicketSchema>;

export const TicketListQuerySchema = z.object({
  // Its own parameter name: ProjectNameSchema describes the `{name}` path parameter of projects.
  project: ProjectNameSchema.openapi({ param: { name: 'project', in: 'query' } }).optional(),
  status: TicketStatusSchema.optional(),
  plan: z
    .string()
    .regex(/^pln_[A-Za-z0-9_-]{1,40}$/, 'not a plan id')
    .openapi({ param: { name: 'plan', in: 'query' } })
    .optional(),
  /**
   * `true`: Server-Sent Events instead of JSON: a `tickets` event with the list, then a `ticket`
   * event with a ticket's snapshot whenever one of them changes status or usage.
   */
  follow: z.enum(['true', 'false']).optional(),
});
export const TicketListSchema = z.object({ tickets: z.array(TicketSchema) }).openapi('TicketList');

/** The agent's own claim about one criterion, shown beside the verified result. */
export const CriterionClaimSchema = z.object({
  criterion: z.number().int().min(0),
  met: z.boolean(),
  note: withoutNul(z.string().max(10_000)).optional(),
});
export type CriterionClaim = z.infer<typeof CriterionClaimSchema>;

export const commandSources = ['agent', 'test', 'check', 'setup', 'platform'] as const;

/**
 * What happened, as the agent interface reports it (the ticket layer adds `id`, `attempt` and
 * `at` when it stores it). `text` carries model text as it streams (a delta per event).
 */
export const TicketEventDataSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('status'),
    from: TicketStatusSchema.nullable(),
    to: TicketStatusSchema,
    reason: z.string().nullable(),
  }),
  z.object({ type: z.literal('text'), step: z.number().int(), text: z.string() }),
  z.object({
    type: z.literal('tool_call'),
    step: z.number().int(),
    toolCallId: z.string(),
    tool: z.string(),
    input: z.unknown(),
  }),
  z.object({
    type: z.literal('tool_result'),
    step: z.number().int(),
    toolCallId: z.string(),
    tool: z.string(),
    /** What the model was shown (truncated head and tail for long output). */
    output: z.string(),
    isError: z.boolean(),
  }),
  z.object({
    type: z.literal('command'),
    step: z.number().int().nullable(),
    toolCallId: z.string().nullable(),
    source: z.enum(commandSources),
    command: z.string(),
    exitCode: z.number().int().nullable(),
    durationMs: z.number(),
    timedOut: z.boolean(),
    /** All of it (stdout and stderr interleaved), up to a cap; `outputBytes` is the whole size. */
    output: z.string(),
    outputBytes: z.number().int(),
  }),
  z.object({
    type: z.literal('file_change'),
    step: z.number().int().nullable(),
    path: z.string(),
    change: z.enum(['created', 'modified', 'deleted']),
    diff: z.string(),
  }),
  z.object({
    type: z.literal('usage'),
    step: z.number().int(),
    model: z.string(),
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    costUsd: z.number(),
    /** The ticket's totals after this step. */
    total: TokenUsageSchema,
  }),
  z.object({ type: z.literal('comment'), author: z.string(), text: z.string() }),
  z.object({
    type: z.literal('finish'),
    summary: z.string(),
    claims: z.array(CriterionClaimSchema),
  }),
  z.object({
    type: z.literal('retry'),
    message: z.string(),
    attempt: z.number().int(),
    delayMs: z.number(),
  }),
  z.object({
    type: z.literal('check'),
    criterion: z.number().int(),
    status: z.enum(['met', 'not_met', 'needs_person']),
    exitCode: z.number().int().nullable(),
  }),
  z.object({ type: z.literal('evidence'), summary: z.string() }),
  /** Something a person should know that is not an error (a model with no price counts $0). */
  z.object({ type: z.literal('notice'), message: z.string() }),
]);
export type TicketEventData = z.infer<typeof TicketEventDataSchema>;

export const TicketEventSchema = z
  .object({
    /** Increasing per ticket from 1; SSE's `id`, to resume after. */
    id: z.number().int().min(1),
    attempt: z.number().int().min(0),
    at: z.string(),
    data: TicketEventDataSchema,
  })
  .openapi('TicketEvent');
export type TicketEvent = z.infer<typeof TicketEventSchema>;

/** `GET .../events` of a ticket or a plan: both answer with Server-Sent Events. */
export const EventsQuerySchema = z.object({
  /** Events after this id (SSE's Last-Event-ID header does the same). */
  after: z.coerce.number().int().min(0).optional(),
  follow: z.enum(['true', 'false']).optional(),
});
export const TicketEventsQuerySchema = EventsQuerySchema;

export const testCountsSchema = z.object({
  passed: z.number().int().min(0),
  failed: z.number().int().min(0),
  skipped: z.number().int().min(0),
  /** Which format they were read from: tap, junit, node, vitest, jest, pytest. */
  format: z.string(),
});

export const CriterionResultSchema = z.object({
  criterion: z.number().int().min(0),
  text: z.string(),
  check: z.string().nullable(),
  /** `needs_person`: no check command; never `met` on the agent's word alone. */
  status: z.enum(['met', 'not_met', 'needs_person']),
  exitCode: z.number().int().nullable(),
  timedOut: z.boolean(),
  output: z.string(),
  durationMs: z.number(),
  claim: CriterionClaimSchema.nullable(),
});
export type CriterionResult = z.infer<typeof CriterionResultSchema>;

export const EvidenceSchema = z
  .object({
    ticket: TicketIdSchema,
    attempt: z.number().int().min(1),
    /** Why the agent ended: finished, a budget, stopped, provider_error. */
    agentEnd: z.string(),
    agentMessage: z.string(),
    summary: z.string().nullable(),
    baseCommit: z.string().nullable(),
    /** The git tree the diff shows (null without a base commit): approving commits this tree. */
    tree: z.string().nullable(),
    diff: z.string(),
    diffStat: z.object({
      files: z.array(
        z.object({
          path: z.string(),
          added: z.number().int().nullable(),
          removed: z.number().int().nullable(),
          binary: z.boolean(),
        }),
      ),
    }),
    tests: z
      .object({
        command: z.string(),
        exitCode: z.number().int().nullable(),
        timedOut: z.boolean(),
        durationMs: z.number(),
        counts: testCountsSchema.nullable(),
        log: z.string(),
      })
      .nullable(),
    criteria: z.array(CriterionResultSchema),
    usage: TokenUsageSchema,
    startedAt: z.string(),
    finishedAt: z.string(),
    durationMs: z.number(),
    /**
     * What happened in this attempt, in order: status changes, each command with its exit code
     * and duration, the agent's finish, the checks. Absent in evidence stored before it existed.
     */
    timeline: z.array(z.object({ at: z.string(), event: z.string() })).optional(),
  })
  .openapi('Evidence');
export type Evidence = z.infer<typeof EvidenceSchema>;

export const CommentBodySchema = z
  .strictObject({ text: withoutNul(z.string().trim().min(1).max(100_000)) })
  .openapi('CommentRequest');
/**
 * `request-changes`: the feedback, and optionally a new budget (merged into the ticket's: a
 * token or cost budget is the whole ticket's, so one that stopped it must be raised to go on).
 */
export const RequestChangesBodySchema = z
  .strictObject({
    text: withoutNul(z.string().trim().min(1).max(100_000)),
    budget: BudgetSchema.optional(),
  })
  .openapi('RequestChangesRequest');
/** `POST /v1/tickets/{id}/run` (the body is optional): a new budget, merged into the ticket's. */
export const RunTicketBodySchema = z
  .strictObject({ budget: BudgetSchema.optional() })
  .openapi('RunTicketRequest');
export const ApproveBodySchema = z
  .strictObject({
    message: withoutNul(z.string().min(1).max(100_000)).optional(),
    authorName: withoutNul(z.string().min(1).max(200)).optional(),
    authorEmail: withoutNul(z.string().min(3).max(320)).optional(),
  })
  .openapi('ApproveRequest');

/** `POST /v1/tickets/{id}/stop` (the body is optional): why, recorded with who. */
/** `POST .../stop` of a ticket or a plan: why, recorded with who. */
export const StopBodySchema = z
  .strictObject({ reason: withoutNul(z.string().trim().min(1).max(10_000)).optional() })
  .openapi('StopRequest');
export const StopTicketBodySchema = StopBodySchema;

export const EvidenceQuerySchema = z.object({
  /** The attempt (default: the latest with evidence). */
  attempt: z.coerce.number().int().min(1).optional(),
});
