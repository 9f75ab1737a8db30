/**
 * Projects (GUIDE §5): a git repository imported into a *project workspace* whose `setup` has
 * already run, plus how to test it. Tickets fork the project workspace. The same schemas validate
 * the API, type the state records and the SDK, and read `.mags/project.json` in a repository.
 */
import { z } from '@hono/zod-openapi';
import { resourceName } from './run-options.ts';
import { withoutNul } from './text-without-nul.ts';

export const ProjectNameSchema = resourceName('project name')
  .max(63)
  .openapi({ param: { name: 'name', in: 'path' }, example: 'webapp' });

/** `provider:model`, e.g. `anthropic:claude-sonnet-4-5`, `openai:gpt-5`, `ollama:qwen3`. */
export const ModelIdSchema = z
  .string()
  .min(3)
  .max(200)
  .regex(/^[a-z][a-z0-9-]*:.+$/, 'model ids are provider:model, e.g. anthropic:claude-sonnet-4-5')
  .openapi({ example: 'anthropic:claude-sonnet-4-5' });

export const RoleNameSchema = resourceName('role name').max(40).openapi({ example: 'developer' });

/** The tools of the built-in agent; a role may allow a subset. */
export const agentToolNames = [
  'run_command',
  'read_file',
  'write_file',
  'edit_file',
  'list_files',
  'search_files',
  'finish',
] as const;
export const AgentToolNameSchema = z.enum(agentToolNames);

/** A role: a named system prompt, the tools it may use and its default model. */
export const RoleSchema = z
  .strictObject({
    description: z.string().max(2000).optional(),
    systemPrompt: z.string().min(1).max(100_000),
    tools: z.array(AgentToolNameSchema).min(1).optional(),
    model: ModelIdSchema.optional(),
  })
  .openapi('Role');

/** USD per million tokens, to extend or override the built-in price table. */
export const ModelPriceSchema = z.strictObject({
  inputPerMillionUsd: z.number().min(0),
  outputPerMillionUsd: z.number().min(0),
});

/**
 * What a project's repository may say about itself in `.mags/project.json`; flags given on the
 * command line or in the API win over it.
 */
export const ProjectConfigSchema = z
  .strictObject({
    setup: withoutNul(z.string().min(1).max(65_536)).optional(),
    test: withoutNul(z.string().min(1).max(65_536)).optional(),
    model: ModelIdSchema.optional(),
    roles: z.record(RoleNameSchema, RoleSchema).optional(),
    prices: z.record(ModelIdSchema, ModelPriceSchema).optional(),
  })
  .openapi('ProjectConfig');
export type ProjectConfig = z.infer<typeof ProjectConfigSchema>;

export const CreateProjectBodySchema = z
  .strictObject({
    name: ProjectNameSchema,
    /** A path on the server's host (a checkout or a bare repository), or a URL with `network`. */
    repo: withoutNul(z.string().min(1).max(4096)),
    /** Branch or commit to import (default: the repository's HEAD). */
    ref: withoutNul(z.string().min(1).max(255)).optional(),
    network: z.boolean().optional(),
    setup: withoutNul(z.string().min(1).max(65_536)).optional(),
    test: withoutNul(z.string().min(1).max(65_536)).optional(),
    model: ModelIdSchema.optional(),
  })
  .openapi('CreateProjectRequest');

export const UpdateProjectBodySchema = z
  .strictObject({
    setup: withoutNul(z.string().min(1).max(65_536)).nullable().optional(),
    test: withoutNul(z.string().min(1).max(65_536)).nullable().optional(),
    model: ModelIdSchema.nullable().optional(),
    repo: withoutNul(z.string().min(1).max(4096)).optional(),
  })
  .openapi('UpdateProjectRequest');

export const ProjectStatusSchema = z.enum(['importing', 'ready', 'failed']);

export const ProjectSchema = z
  .object({
    name: ProjectNameSchema,
    repo: z.string(),
    ref: z.string().nullable(),
    /** The project workspace: the repository at /workspace with its setup run. */
    workspace: z.string(),
    /** The commit the workspace is at: what tickets start from. */
    commit: z.string().nullable(),
    /**
     * The git tree of the workspace's files after the setup ran (what .gitignore does not cover),
     * or null before it ran: the commit's own tree when the setup changed nothing. A ticket's
     * diff is taken against it, so what the setup made is not shown as the agent's work.
     */
    setupTree: z.string().nullable(),
    setup: z.string().nullable(),
    test: z.string().nullable(),
    model: ModelIdSchema.nullable(),
    /** `.mags/project.json` as last read from the repository (roles, prices, defaults). */
    config: ProjectConfigSchema,
    status: ProjectStatusSchema,
    /** Why it failed (the setup's exit and the tail of its output), or null. */
    reason: z.string().nullable(),
    /** The clone and the setup get outbound network (a URL repository, a setup that downloads). */
    network: z.boolean().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Project');
export type Project = z.infer<typeof ProjectSchema>;

export const ProjectListSchema = z
  .object({ projects: z.array(ProjectSchema) })
  .openapi('ProjectList');
