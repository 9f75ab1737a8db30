import { randomBytes } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { LimitsSchema, resourceName } from '../api/run-options.ts';
import type { CreateSandboxBody, SandboxInfo } from '../api/schemas.ts';
import { InvalidInputError, MagsError } from '../errors/mags-error.ts';
import type { Mags } from '../sdk/mags.ts';
import { jsonResult, toolResult } from './tool-result.ts';

/** The API's name rules in words for the model; the schema checks them too. */
const nameRules = '1-63 characters: letters, digits, ".", "_", "-"; starts with a letter or digit';

/**
 * A sandbox name with the API's own rule (resourceName), checked here as well: "." and ".."
 * would otherwise be resolved by URL parsing into another route of the same owner.
 */
const sandboxName = () => resourceName('sandbox name').max(63);

export const sandboxNameInput = sandboxName().describe(
  `The sandbox's name (from sandbox_create or sandbox_list). ${nameRules}.`,
);

const egressRuleInput = z
  .strictObject({
    host: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe('A host name, e.g. "registry.npmjs.org"; "*.example.com" allows every name below.'),
    cidr: z.string().min(1).max(18).optional().describe('An IPv4 range, e.g. "10.1.0.0/16".'),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe('Only this TCP/UDP port (default: every port).'),
  })
  .describe('One allowed destination: exactly one of `host` or `cidr`, optionally a `port`.');

const limits = LimitsSchema.shape;

const createInput = z.strictObject({
  name: sandboxName()
    .optional()
    .describe(
      `A name for the sandbox (${nameRules}). Default: a new random name like "mcp-3f9a0c1e".`,
    ),
  workspace: resourceName('workspace name')
    .optional()
    .describe(
      'The workspace whose files the sandbox sees at /workspace and keeps after it is deleted ' +
        '(created when new). Default: a workspace named like the sandbox.',
    ),
  ephemeral: z
    .boolean()
    .optional()
    .describe(
      'true: a throw-away sandbox: nothing it writes is kept in a workspace. Default false.',
    ),
  image: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe("The base image (a name `mags image` built). Default: the server's default image."),
  network: z
    .enum(['none', 'full', 'allow_list'])
    .optional()
    .describe(
      'Outbound network: "none" (no network at all), "full" (the internet, never the host), or ' +
        '"allow_list" (only the destinations in `allow`). Default: the server\'s default (usually none).',
    ),
  allow: z
    .array(egressRuleInput)
    .max(256)
    .optional()
    .describe('With network "allow_list": the destinations the sandbox may reach.'),
  // The bounds are the API's (LimitsSchema); only the words for the model are added here.
  memoryMiB: limits.memoryMiB.describe(
    "Memory limit in MiB (1024 = 1 GiB), 16 to 1048576. Default: the server's.",
  ),
  cpus: limits.cpus.describe(
    "CPU limit in cores, fractions allowed (0.5), at most 1024. Default: the server's.",
  ),
  pidsMax: limits.pidsMax.describe(
    "Most processes and threads at once, 8 to 4194304. Default: the server's.",
  ),
  diskMiB: limits.diskMiB.describe(
    "Size of the workspace's disk in MiB, at least 32 (grows an existing one). Default: the server's.",
  ),
  sleep: z
    .boolean()
    .optional()
    .describe('Freeze the sandbox when idle; any use wakes it (default true).'),
});

type CreateInput = z.infer<typeof createInput>;

const nameOnlyInput = z.strictObject({ name: sandboxNameInput });

/** The tool's flat, model-friendly arguments as the API's CreateSandboxBody. */
export function createSandboxBody(input: CreateInput): CreateSandboxBody {
  const network = input.network;
  if (network !== 'allow_list' && input.allow !== undefined) {
    throw new InvalidInputError('`allow` was given without network "allow_list".', {
      hint: 'Set network to "allow_list" to use `allow`, or leave `allow` out.',
    });
  }
  if (network === 'allow_list' && (input.allow ?? []).length === 0) {
    throw new InvalidInputError('network "allow_list" needs at least one destination in `allow`.', {
      hint: 'Give `allow`, e.g. [{"host": "registry.npmjs.org", "port": 443}], or use network "none".',
    });
  }
  const limits = {
    ...(input.memoryMiB !== undefined ? { memoryMiB: input.memoryMiB } : {}),
    ...(input.cpus !== undefined ? { cpus: input.cpus } : {}),
    ...(input.pidsMax !== undefined ? { pidsMax: input.pidsMax } : {}),
    ...(input.diskMiB !== undefined ? { diskMiB: input.diskMiB } : {}),
  };
  return {
    name: input.name ?? `mcp-${randomBytes(4).toString('hex')}`,
    ...(input.workspace !== undefined ? { workspace: input.workspace } : {}),
    ...(input.ephemeral !== undefined ? { ephemeral: input.ephemeral } : {}),
    ...(input.image !== undefined ? { image: input.image } : {}),
    ...(network === 'none' ? { network: false } : {}),
    ...(network === 'full' ? { network: true } : {}),
    ...(network === 'allow_list' ? { allow: input.allow as CreateSandboxBody['allow'] } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
    ...(input.sleep !== undefined ? { sleep: input.sleep } : {}),
  };
}

function describeSandbox(sandbox: SandboxInfo): string {
  const reason = sandbox.reason ? ` (${sandbox.reason})` : '';
  return (
    `${sandbox.name}: ${sandbox.status}${reason}, workspace ${sandbox.workspace ?? '(none)'}, ` +
    `runtime ${sandbox.runtime}, last active ${sandbox.lastActiveAt}`
  );
}

/**
 * Creates the sandbox unless the request is cancelled: a cancellation that comes while the API
 * creates it deletes it again, so an abandoned call leaves no sandbox behind.
 */
async function createUnlessCancelled(
  client: Mags,
  body: CreateSandboxBody,
  signal: AbortSignal,
): Promise<SandboxInfo> {
  const cancelled = () =>
    new MagsError(`sandbox_create was cancelled; no sandbox ${body.name} was kept.`, {
      code: 'cancelled',
    });
  if (signal.aborted) throw cancelled();
  const sandbox = await client.sandboxes.create(body);
  if (signal.aborted) {
    await client.sandboxes.delete(sandbox.name).catch(() => {});
    throw cancelled();
  }
  return sandbox;
}

export function registerSandboxTools(server: McpServer, client: Mags): void {
  server.registerTool(
    'sandbox_create',
    {
      title: 'Create a sandbox',
      description:
        'Creates and starts an isolated Linux sandbox (a long-lived one: run_command and the ' +
        'file_* tools use it by name until sandbox_delete). Its files live in /workspace, kept ' +
        'in a workspace that outlives the sandbox unless `ephemeral`. Returns the sandbox.',
      inputSchema: createInput,
    },
    (input, extra) =>
      toolResult(async () => {
        const body = createSandboxBody(input);
        const sandbox = await createUnlessCancelled(client, body, extra.signal);
        const summary = `Created sandbox ${describeSandbox(sandbox)}.`;
        return jsonResult(summary, { summary, sandbox });
      }),
  );

  server.registerTool(
    'sandbox_list',
    {
      title: 'List sandboxes',
      description:
        'Lists your sandboxes: name, status (running, sleeping: woken by any use, stopped), ' +
        'workspace, runtime, last activity.',
      inputSchema: z.strictObject({}),
      annotations: { readOnlyHint: true },
    },
    () =>
      toolResult(async () => {
        const sandboxes = await client.sandboxes.list();
        const text =
          sandboxes.length === 0
            ? 'No sandboxes. sandbox_create makes one.'
            : sandboxes.map(describeSandbox).join('\n');
        return jsonResult(text, { summary: text, sandboxes });
      }),
  );

  server.registerTool(
    'sandbox_stop',
    {
      title: 'Stop a sandbox',
      description:
        'Stops a sandbox: its processes end, its workspace files stay. It keeps its name ' +
        '(sandbox_list shows it stopped) until sandbox_delete.',
      inputSchema: nameOnlyInput,
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    ({ name }) =>
      toolResult(async () => {
        const sandbox = await client.sandboxes.stop(name);
        const summary = `Stopped sandbox ${describeSandbox(sandbox)}.`;
        return jsonResult(summary, { summary, sandbox });
      }),
  );

  server.registerTool(
    'sandbox_start',
    {
      title: 'Start a stopped sandbox',
      description:
        'Starts a stopped sandbox again, with the files of its workspace. (A sleeping sandbox ' +
        'needs no start: any use wakes it.)',
      inputSchema: nameOnlyInput,
      annotations: { idempotentHint: true },
    },
    ({ name }) =>
      toolResult(async () => {
        const sandbox = await client.sandboxes.start(name);
        const summary = `Started sandbox ${describeSandbox(sandbox)}.`;
        return jsonResult(summary, { summary, sandbox });
      }),
  );

  server.registerTool(
    'sandbox_delete',
    {
      title: 'Delete a sandbox',
      description:
        'Deletes a sandbox (stopping it first). Its workspace and the files in it are kept ' +
        '(unless it was ephemeral); a new sandbox with the same workspace sees them.',
      inputSchema: nameOnlyInput,
      annotations: { destructiveHint: true, idempotentHint: false },
    },
    ({ name }) =>
      toolResult(async () => {
        await client.sandboxes.delete(name);
        const summary = `Deleted sandbox ${name}.`;
        return jsonResult(summary, { summary, deleted: name });
      }),
  );
}
