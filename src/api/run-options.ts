/**
 * The options of a run, declared once: the API validates `POST /v1/jobs` with this schema, and
 * the job manager's request, the run itself (`RunCommandOptions`), the SDK's `RunOptions` and the
 * CLI's flag parsing all take the types inferred from it. (It lives below the server so that the
 * job layer can name its types without importing upward.)
 */
import { z } from '@hono/zod-openapi';
import { AllowListSchema } from './egress-schema.ts';
import { uploadIdPattern } from './uploads.ts';

const name = (what: string) =>
  z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, `${what}: letters, digits, ".", "_", "-" only`)
    .refine((value) => !value.includes('..'), `${what} must not contain ".."`);

export const resourceName = name;

export const WorkspaceNameSchema = name('workspace name').openapi({ example: 'myproject' });

/** A runtime by name; which ones a server offers is its business (an unknown one is a 400). */
export const RuntimeNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'runtime name: lowercase letters, digits, "-" only')
  .openapi({
    description:
      "The runtime it runs on (`namespace`, `qemu`, ...; GET /v1/health lists the server's); default: the server's default.",
    example: 'namespace',
  });

export const EnvironmentSchema = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names: letters, digits, _'),
    z.string().max(65_536),
  )
  .refine((value) => Object.keys(value).length <= 256, 'at most 256 environment variables');

export const LimitsSchema = z.strictObject({
  memoryMiB: z.number().int().min(16).max(1_048_576).optional(),
  cpus: z.number().positive().max(1024).optional(),
  pidsMax: z.number().int().min(8).max(4_194_304).optional(),
  diskMiB: z
    .number()
    .int()
    .min(32)
    .max(64 * 1024 * 1024)
    .optional()
    .openapi({
      description:
        "Size of the workspace's disk (of the throw-away layer without a workspace). A new workspace gets it (default: the server's, 10 GiB); an existing one grows to it, never shrinks.",
    }),
});

export const TimeoutSchema = z
  .number()
  .positive()
  .max(7 * 24 * 3600)
  .openapi({ description: 'Wall-clock limit in seconds: SIGTERM, then everything 2 s later.' });

/** An upload staged with `POST /v1/uploads`, taken (and removed) by the job that names it. */
export const UploadIdSchema = z
  .string()
  .regex(uploadIdPattern, 'not an upload id')
  .openapi({ example: 'upl_Qd2pX0e7Lk3mZr8a' });

/** A file name in /workspace: one path segment. */
export const UploadNameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((value) => !value.includes('/') && !value.includes('\0'), 'a file name, without "/"')
  .refine((value) => value !== '.' && value !== '..', 'a file name, not "." or ".."');

export const RunFileSchema = z.strictObject({
  upload: UploadIdSchema,
  name: UploadNameSchema.openapi({ description: 'Written as /workspace/NAME.' }),
  mode: z.number().int().min(0).max(0o7777).optional().openapi({
    description: 'Permission bits (default 0644).',
  }),
  archive: z
    .boolean()
    .optional()
    .openapi({
      description:
        'The upload is a tar stream of a directory (`mags run -f DIR`) whose one top-level entry ' +
        'is NAME: extracted into /workspace, so the tree lands as /workspace/NAME.',
    }),
});

export const RunOptionsSchema = z.strictObject({
  workspace: WorkspaceNameSchema.optional().openapi({
    description: 'Everything the command writes is kept in this workspace.',
  }),
  base: WorkspaceNameSchema.optional().openapi({
    description: 'A workspace used read-only below a throw-away layer.',
  }),
  ephemeral: z.boolean().optional(),
  persist: z.boolean().optional().openapi({
    description: 'Restore the workspace from object storage when missing; sync it after.',
  }),
  version: z.number().int().positive().optional(),
  env: EnvironmentSchema.optional(),
  timeoutSeconds: TimeoutSchema.optional(),
  limits: LimitsSchema.optional(),
  network: z.boolean().optional(),
  image: WorkspaceNameSchema.optional(),
  runtime: RuntimeNameSchema.optional(),
  files: z.array(RunFileSchema).max(256).optional().openapi({
    description:
      'Uploaded files (POST /v1/uploads) written into /workspace before the command starts.',
  }),
  allow: AllowListSchema.optional(),
});

/** A run's options as a client gives them (every one optional: the server has defaults). */
export type RunOptions = z.infer<typeof RunOptionsSchema>;
export type RunFile = z.infer<typeof RunFileSchema>;

/**
 * What a run job stores (`JobRecord.runOptions`) so that another server process can finish it
 * after a restart (`continueRun`): its options as given, with the server's defaults filled in
 * (image, network, timeout, limits: a restarted server may have other defaults). Not its
 * environment (it may hold secrets, and the command already has it) nor its files (written before
 * the command started). An exec job stores only its `timeoutSeconds`.
 */
export const StoredRunOptionsSchema = RunOptionsSchema.omit({ env: true, files: true }).extend({
  image: WorkspaceNameSchema,
  network: z.boolean(),
  timeoutSeconds: z.number().positive(),
  limits: LimitsSchema.required({ memoryMiB: true, cpus: true, pidsMax: true }),
});

export type StoredRunOptions = z.infer<typeof StoredRunOptionsSchema>;

/** An exec job's stored options: how long its command may run. */
export const StoredExecOptionsSchema = StoredRunOptionsSchema.pick({ timeoutSeconds: true });
