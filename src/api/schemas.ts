/**
 * The API's schemas: every request body, parameter and response of `/v1`. The server validates
 * with them, the OpenAPI document is generated from them, and the SDK's types are inferred from
 * them (type-only imports, so the SDK does not ship zod).
 */
import { z } from '@hono/zod-openapi';
import { AllowListSchema } from './egress-schema.ts';
import { EndReasonSchema } from './end-reason.ts';
import {
  EnvironmentSchema,
  LimitsSchema,
  RunOptionsSchema,
  RuntimeNameSchema,
  resourceName,
  TimeoutSchema,
  UploadIdSchema,
  WorkspaceNameSchema,
} from './run-options.ts';
import { withoutNul } from './text-without-nul.ts';

export { WorkspaceNameSchema };
export const SandboxNameSchema = resourceName('sandbox name')
  .max(63)
  .openapi({ param: { name: 'name', in: 'path' }, example: 'dev' });
export const JobIdSchema = z
  .string()
  .regex(/^job_[A-Za-z0-9_-]{1,40}$/, 'not a job id')
  .openapi({ param: { name: 'id', in: 'path' }, example: 'job_3kTMd9bX1VvJf2Qw' });

/** One string runs through `/bin/sh -c`; an array is the exact argv. */
export const CommandSchema = z
  .union([
    withoutNul(z.string().min(1).max(65_536)),
    z
      .array(withoutNul(z.string().max(65_536)))
      .min(1)
      .max(4096),
  ])
  .openapi({ example: 'npm test' });

export const RunJobBodySchema = z
  .strictObject({ command: CommandSchema, ...RunOptionsSchema.shape })
  .openapi('RunJobRequest');

/**
 * How a job ended, the same for every client: the server's job record, the SDK, and both outputs
 * of `mags run` (its `--json` exit event and the exit code it maps `endReason` to).
 */
export const JobResultSchema = z
  .object({
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    endReason: EndReasonSchema,
    message: z.string().nullable().openapi({
      description:
        'What to tell a person about how it ended (a hint, the disk being full, the sync after the run), one line each; null: nothing.',
    }),
  })
  .openapi('JobResult');

/** On a job: null while it is queued or running. */
const jobResultFields = () => ({
  endReason: EndReasonSchema.nullable(),
  message: JobResultSchema.shape.message,
});

export const UploadSchema = z
  .object({ id: UploadIdSchema, sizeBytes: z.number().int() })
  .openapi('Upload');

export const UploadQuerySchema = z.strictObject({
  mode: z
    .string()
    .regex(/^[0-7]{3,4}$/, 'mode is octal, e.g. 644 or 0755')
    .optional(),
});

export const JobStatusSchema = z.enum(['queued', 'running', 'succeeded', 'failed', 'stopped']);

export const JobSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['run', 'exec']),
    sandbox: z.string().nullable(),
    sandboxId: z.string().nullable().openapi({
      description:
        "A run job's own sandbox, from when it has started (null before, and for exec jobs).",
    }),
    command: z.array(z.string()),
    workspace: z.string().nullable(),
    status: JobStatusSchema,
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    reason: z.string().nullable().openapi({
      description:
        "The job's state in a few words, for lists and status lines ('timed out', 'exited with code 3', 'stopped on request'); null while queued or running and after a success. Kept for compatibility: what to tell a person is `message`, how it ended is `endReason`.",
    }),
    ...jobResultFields(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    logBytes: z.number().int(),
    logsRemovedAt: z.string().nullable().openapi({
      description:
        'When log retention or a quota removed the output (the job stays); null while it is kept.',
    }),
    logsRemovedReason: z.string().nullable(),
    origin: z.string().nullable().openapi({
      description:
        "What started it besides a request of its owner's: `cron:NAME` for a cron job's run; null: none.",
    }),
    runtime: z.string().openapi({
      description: "The runtime it runs on (an exec job: its sandbox's), e.g. `namespace`.",
    }),
    host: z.string().nullable().openapi({
      description:
        'The host that runs it (or ran it, or it is placed on), as `mags server --host-id` names it; null for a job from before hosts were recorded.',
    }),
  })
  .openapi('Job');

export const JobListSchema = z
  .object({ jobs: z.array(JobSchema), nextCursor: z.string().nullable() })
  .openapi('JobList');

export const JobListQuerySchema = z.strictObject({
  status: JobStatusSchema.optional(),
  workspace: WorkspaceNameSchema.optional(),
  sandbox: SandboxNameSchema.optional().openapi({ param: { name: 'sandbox', in: 'query' } }),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().regex(/^\d+$/, 'not a cursor from a previous page').optional(),
  /**
   * `true`: Server-Sent Events instead of JSON: a `jobs` event with the page, then a `job`
   * event with a job's snapshot whenever one of them is created, starts or finishes.
   */
  follow: z.enum(['true', 'false']).optional(),
});

const booleanQuery = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

export const LogQuerySchema = z.strictObject({
  offset: z.coerce.number().int().min(0).optional().openapi({
    description: 'Byte offset to resume from (the `id` of the last event received).',
  }),
  follow: booleanQuery.optional().openapi({ description: 'Keep streaming until the job ends.' }),
});

export const ExecBodySchema = z
  .strictObject({
    command: CommandSchema,
    env: EnvironmentSchema.optional(),
    cwd: withoutNul(z.string().startsWith('/').max(4096)).optional(),
    timeoutSeconds: TimeoutSchema.optional(),
  })
  .openapi('ExecRequest');

export const CreateSandboxBodySchema = z
  .strictObject({
    name: SandboxNameSchema,
    workspace: WorkspaceNameSchema.optional().openapi({
      description: 'The workspace it writes to; defaults to one named like the sandbox.',
    }),
    ephemeral: z.boolean().optional(),
    image: WorkspaceNameSchema.optional(),
    limits: LimitsSchema.optional(),
    network: z.boolean().optional(),
    allow: AllowListSchema.optional(),
    sleep: z.boolean().optional().openapi({
      description: 'Freeze it when idle (default true); any use wakes it.',
    }),
    runtime: RuntimeNameSchema.optional(),
  })
  .openapi('CreateSandboxRequest');

export const UpdateSandboxBodySchema = z
  .strictObject({ sleep: z.boolean() })
  .openapi('UpdateSandboxRequest');

export const SandboxSchema = z
  .object({
    name: z.string(),
    status: z.enum(['running', 'sleeping', 'stopped']),
    sleep: z.boolean().openapi({ description: 'Frozen after being idle (woken by any use).' }),
    workspace: z.string().nullable(),
    reason: z.string().nullable(),
    createdAt: z.string(),
    lastActiveAt: z.string(),
    runtime: z.string().openapi({ description: 'The runtime it runs on, e.g. `namespace`.' }),
  })
  .openapi('Sandbox');

export const SandboxListSchema = z
  .object({ sandboxes: z.array(SandboxSchema) })
  .openapi('SandboxList');

export const SandboxListQuerySchema = z.strictObject({
  /**
   * `true`: Server-Sent Events instead of JSON: a `sandboxes` event with the list, then a
   * `sandbox` event with a sandbox's snapshot (`{name, deleted: true}` once deleted) as it changes.
   */
  follow: z.enum(['true', 'false']).optional(),
});

export const WorkspaceListQuerySchema = z.strictObject({
  /**
   * `true`: Server-Sent Events instead of JSON: a `workspaces` event with the list, then a
   * `workspace` event with a workspace's snapshot (`{name, deleted: true}` once deleted) as it
   * is made, synced, forked or used by a run that ended.
   */
  follow: z.enum(['true', 'false']).optional(),
});

/** A path inside the sandbox: absolute, no `..`, no NUL. */
export const SandboxPathSchema = z
  .string()
  .min(2)
  .max(4096)
  .startsWith('/', 'path must be absolute, e.g. /workspace/data.csv')
  .refine((value) => !value.split('/').includes('..'), 'path must not contain ".." segments')
  .refine((value) => !value.includes('\0'), 'path must not contain NUL')
  .refine((value) => !value.endsWith('/'), 'path must name a file, not a directory');

export const FileQuerySchema = z.strictObject({
  path: SandboxPathSchema,
  mode: z
    .string()
    .regex(/^[0-7]{3,4}$/, 'mode is octal, e.g. 644 or 0755')
    .optional(),
});

export const WorkspaceSchema = z
  .object({
    name: z.string(),
    createdAt: z.string(),
    lastUsedAt: z.string(),
    sizeBytes: z.number().nullable().openapi({
      description: "Bytes the workspace's layer uses on this host (on its disk, when it has one).",
    }),
    diskBytes: z.number().nullable().openapi({
      description:
        "The size of the workspace's disk; null without one (no limit, or not on this host).",
    }),
    remoteVersion: z.number().nullable(),
    forkedFrom: z.string().nullable().openapi({
      description: 'The workspace this one was forked from; null if it is not a fork.',
    }),
  })
  .openapi('Workspace');

export const ForkWorkspaceRequestSchema = z
  .object({ name: WorkspaceNameSchema.openapi({ description: 'The new workspace.' }) })
  .openapi('ForkWorkspaceRequest');

export const WorkspaceVersionSchema = z
  .object({ version: z.number().int(), committedAt: z.string(), sizeBytes: z.number() })
  .openapi('WorkspaceVersion');

export const SyncResultSchema = z
  .object({
    version: z.number().int(),
    committed: z.boolean(),
    uploadedBytes: z.number(),
    totalBytes: z.number(),
  })
  .openapi('SyncResult');

export const HealthSchema = z
  .object({
    status: z.literal('ok'),
    version: z.string(),
    runtime: z.string().openapi({ description: 'The default runtime.' }),
    runtimes: z
      .array(z.string())
      .openapi({ description: 'Every runtime a run or sandbox may name.' }),
    jobs: z.object({ running: z.number(), queued: z.number(), maxConcurrent: z.number() }),
    sandboxes: z.object({ running: z.number() }),
  })
  .openapi('Health');

const Counts = z.record(z.string(), z.number());

/** A per-owner limit; null when there is none (the local server's own owner). */
const Limit = z.number().nullable();

export const OwnerUsageSchema = z
  .object({
    name: z.string(),
    jobs: z.object({
      running: z.number(),
      queued: z.number(),
      maxRunning: Limit,
      maxQueued: Limit,
    }),
    sandboxes: z.object({ running: z.number(), sleeping: z.number(), max: Limit }),
    /** This owner's sandboxes parked in the warm cache. */
    parked: z.number(),
  })
  .openapi('OwnerUsage');

export const HostPoolStatusSchema = z
  .object({
    pool: z.object({
      runtime: z.string().openapi({ description: 'The runtime whose sandboxes it prepares.' }),
      size: z.number(),
      image: z.string(),
      idle: z.number(),
      starting: z.number(),
      error: z.string().nullable(),
    }),
    warm: z.object({
      parked: z.number(),
      memoryBytes: z.number(),
      maxCount: z.number(),
      maxMemoryBytes: z.number(),
      ttlMs: z.number(),
    }),
    busy: z.number(),
    sleeping: z.number(),
    total: z.number(),
    counters: z.object({
      poolHits: z.number(),
      poolMisses: Counts,
      poolRefillFailures: z.number(),
      warmHits: z.number(),
      warmMisses: Counts,
      warmEvictions: Counts,
      notParked: Counts,
      sleeps: z.number(),
      wakes: z.number(),
    }),
    jobs: z.object({ running: z.number(), queued: z.number(), maxConcurrent: z.number() }),
  })
  .openapi('HostPoolStatus');

/** What `/v1/pool` shows: always the caller's own figures; the host's only to an admin token. */
export const PoolStatusSchema = z
  .object({
    owner: OwnerUsageSchema,
    host: HostPoolStatusSchema.nullable(),
  })
  .openapi('PoolStatus');

export const WhoamiSchema = z.object({ owner: z.string(), tokenId: z.string() }).openapi('Whoami');

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      hint: z.string().optional(),
      requestId: z.string().optional(),
    }),
  })
  .openapi('Error');

export type Job = z.infer<typeof JobSchema>;
export type JobList = z.infer<typeof JobListSchema>;
export type RunJobBody = z.input<typeof RunJobBodySchema>;
export type JobResult = z.infer<typeof JobResultSchema>;
export type Upload = z.infer<typeof UploadSchema>;
export type ExecBody = z.input<typeof ExecBodySchema>;
export type CreateSandboxBody = z.input<typeof CreateSandboxBodySchema>;
export type SandboxInfo = z.infer<typeof SandboxSchema>;
export type WorkspaceInfo = z.infer<typeof WorkspaceSchema>;
export type WorkspaceVersion = z.infer<typeof WorkspaceVersionSchema>;
export type ForkWorkspaceRequest = z.infer<typeof ForkWorkspaceRequestSchema>;
export type SyncResult = z.infer<typeof SyncResultSchema>;
export type Health = z.infer<typeof HealthSchema>;
export type PoolStatusInfo = z.infer<typeof PoolStatusSchema>;
export type HostPoolStatusInfo = z.infer<typeof HostPoolStatusSchema>;
export type OwnerUsageInfo = z.infer<typeof OwnerUsageSchema>;
export type ApiError = z.infer<typeof ErrorSchema>;
