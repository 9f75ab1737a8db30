/**
 * Cron jobs (the Mags CLI's `mags cron`): a command run as an ordinary job at the times a cron
 * schedule names, by the server (a job's logs and status, `mags logs`). Each scheduled time is
 * handled once and recorded as a run: started (with its job), skipped (the previous run still
 * going), missed (times that passed while no server ran) or failed to start (with the reason).
 */
import { z } from '@hono/zod-openapi';
import { resourceName, TimeoutSchema, WorkspaceNameSchema } from './run-options.ts';
import { CommandSchema, JobStatusSchema } from './schemas.ts';
import { withoutNul } from './text-without-nul.ts';

export const CronNameSchema = resourceName('cron job name')
  .max(63)
  .openapi({ param: { name: 'name', in: 'path' }, example: 'nightly-backup' });

export const CronCatchUpSchema = z.enum(['skip', 'once']).openapi({
  description:
    "What happens to times that passed while no server ran: 'skip' (default) records one missed run with their count; 'once' runs the command once, at once.",
});

/** What a cron job runs and when: given at creation, fixed after (remove and add to change). */
export const CronSpecSchema = z.strictObject({
  schedule: withoutNul(z.string().min(1).max(200)).openapi({
    description:
      'Five fields (minute hour day-of-month month day-of-week), six with seconds first, or @hourly, @daily, ...',
    example: '0 3 * * *',
  }),
  timezone: withoutNul(z.string().min(1).max(100)).default('UTC').openapi({
    description: 'The IANA time zone the schedule is read in (default UTC).',
    example: 'Europe/Berlin',
  }),
  command: CommandSchema,
  workspace: WorkspaceNameSchema.nullable().default(null).openapi({
    description:
      'Each run writes to this workspace (null: a fresh throw-away sandbox each run). One run at a time writes it.',
  }),
  persist: z.boolean().default(false).openapi({
    description: 'Sync the workspace to object storage after each run (as `mags run -p`).',
  }),
  network: z.boolean().default(false),
  timeoutSeconds: TimeoutSchema.nullable().default(null).openapi({
    description: "Each run's wall-clock limit (null: the server's default).",
  }),
  allowOverlap: z.boolean().default(false).openapi({
    description:
      'Start a run even while the previous one is still queued or running (default: skip it, recorded with the reason). Not with a workspace: it has one writer at a time.',
  }),
  catchUp: CronCatchUpSchema.default('skip'),
});
export type CronSpec = z.infer<typeof CronSpecSchema>;

export const CreateCronBodySchema = z
  .strictObject({ name: CronNameSchema, ...CronSpecSchema.shape })
  .openapi('CreateCronRequest');
export type CreateCronBody = z.input<typeof CreateCronBodySchema>;

export const CronJobSchema = z
  .object({
    id: z.string().openapi({ example: 'crn_Qd2pX0e7Lk3mZr8a' }),
    name: CronNameSchema,
    ...CronSpecSchema.shape,
    paused: z.boolean(),
    lastRunAt: z.string().nullable().openapi({
      description: 'The last scheduled time handled (run, skipped or missed); null: none yet.',
    }),
    nextRunAt: z.string().nullable().openapi({
      description: 'The next time it fires while a server runs; null when paused.',
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('CronJob');
export type CronJob = z.infer<typeof CronJobSchema>;

export const CronJobListSchema = z
  .object({ cronJobs: z.array(CronJobSchema) })
  .openapi('CronJobList');

export const CronRunStatusSchema = z.enum(['started', 'skipped', 'missed', 'failed_to_start']);
export type CronRunStatus = z.infer<typeof CronRunStatusSchema>;

/** What made the run: its schedule, a person (`mags cron run`), or a server catching up. */
export const CronRunTriggerSchema = z.enum(['schedule', 'manual', 'catch-up']);
export type CronRunTrigger = z.infer<typeof CronRunTriggerSchema>;

export const CronRunSchema = z
  .object({
    id: z.string().openapi({ example: 'crr_Qd2pX0e7Lk3mZr8a' }),
    scheduledAt: z.string().openapi({
      description:
        'The scheduled time it stands for (a manual run: when it was asked for; missed: the first time missed).',
    }),
    at: z.string().openapi({ description: 'When it was handled.' }),
    status: CronRunStatusSchema,
    trigger: CronRunTriggerSchema,
    reason: z.string().nullable().openapi({
      description: 'Why it was skipped, missed or failed to start; what a catch-up run stands for.',
    }),
    missedCount: z.number().int().nullable().openapi({
      description: 'missed: how many scheduled times passed while no server ran.',
    }),
    missedCountIsLowerBound: z.boolean().openapi({
      description:
        'missed: true when the server stopped counting (at about 1,000): at least missedCount times were missed.',
    }),
    missedUntil: z.string().nullable().openapi({ description: 'missed: the last time missed.' }),
    skippedCount: z.number().int().nullable().openapi({
      description:
        'skipped: how many consecutive times this run stands for (they are folded into one run, from scheduledAt to skippedUntil).',
    }),
    skippedUntil: z
      .string()
      .nullable()
      .openapi({ description: 'skipped: the last consecutive time skipped.' }),
    jobId: z.string().nullable(),
    /** The job's state when the run was read (null: no job, or the job was deleted). */
    job: z
      .object({
        status: JobStatusSchema,
        exitCode: z.number().int().nullable(),
        reason: z.string().nullable(),
      })
      .nullable(),
  })
  .openapi('CronRun');
export type CronRun = z.infer<typeof CronRunSchema>;

export const CronRunListSchema = z
  .object({ runs: z.array(CronRunSchema), nextCursor: z.string().nullable() })
  .openapi('CronRunList');
export type CronRunList = z.infer<typeof CronRunListSchema>;

export const CronRunListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(20),
  cursor: z.string().regex(/^\d+$/, 'not a cursor from a previous page').optional(),
});

const booleanQuery = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

export const CronDeleteQuerySchema = z.strictObject({
  stop: booleanQuery.optional().openapi({
    description: 'Also stop its run that is still queued or running (default: left to finish).',
  }),
});
