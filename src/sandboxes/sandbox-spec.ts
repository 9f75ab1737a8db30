import { uniqueSuffix } from '../config/unique-suffix.ts';
import { ConflictError, DependencyMissingError, InvalidInputError } from '../errors/mags-error.ts';
import { networkPolicy } from '../runtimes/egress-policy.ts';
import { requireCapability } from '../runtimes/require-capability.ts';
import type {
  EgressRule,
  ResourceLimits,
  Runtime,
  Sandbox,
  SandboxSpec,
  WorkspaceReference,
} from '../runtimes/runtime.ts';
import type { HeadStart } from '../scheduling/head-start.ts';
import type { SandboxScheduler } from '../scheduling/sandbox-scheduler.ts';
import { validateWorkspaceName } from '../workspaces/workspace-name.ts';
import { hostGitIdentity } from './host-git-identity.ts';

/** What a run or a long-lived sandbox asks for; names only, the runtime finds the layers. */
export interface SpecOptions {
  /** A named workspace whose writes are kept (`-w`). */
  workspace?: string;
  /** A workspace used read-only below a throw-away layer (`--base`). */
  base?: string;
  /** Discard every write; with `workspace` it means the same as `base`. */
  ephemeral?: boolean;
  /** Run read-only on this stored version of `workspace` (`-w name@3`). */
  version?: number;
  image: string;
  limits: ResourceLimits;
  network: boolean;
  hostname?: string;
  labels?: Record<string, string>;
  /** An egress allow-list (implies network; `network` alone is all of it). */
  allow?: EgressRule[];
}

const environmentKeyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The spec of a sandbox for these options: references to its image and workspace, its limits
 * and network. No I/O: the runtime's layer provider materialises the references at start.
 * `idPrefix` names the sandbox's kind.
 */
export function resolveSpec(
  context: { workspaces: { defaultDiskMiB: number } },
  options: SpecOptions,
  idPrefix = 'run',
): SandboxSpec {
  // An empty name is a mistake to report, not a request for no workspace.
  if (options.workspace !== undefined) validateWorkspaceName(options.workspace);
  if (options.base !== undefined) validateWorkspaceName(options.base);
  if (options.workspace !== undefined && options.base !== undefined) {
    throw new InvalidInputError(
      'Use either -w (write to a workspace) or --base (read-only), not both.',
    );
  }
  const workspace = workspaceReference(options);
  const writes = workspace?.access === 'writable';
  return {
    id: `${idPrefix}-${uniqueSuffix()}`,
    image: { name: options.image },
    ...(workspace ? { workspace } : {}),
    limits: {
      ...options.limits,
      // A scratch layer (a run without a workspace to write) gets the default disk; a writable
      // workspace's disk changes only when a --disk was given.
      diskMiB: writes
        ? options.limits.diskMiB
        : (options.limits.diskMiB ?? context.workspaces.defaultDiskMiB),
    },
    network: networkPolicy(options.network, options.allow),
    ...(options.hostname !== undefined ? { hostname: options.hostname } : {}),
    ...(options.labels ? { labels: options.labels } : {}),
  };
}

function workspaceReference(options: SpecOptions): WorkspaceReference | undefined {
  if (options.workspace !== undefined && options.version !== undefined) {
    return { name: options.workspace, access: 'read-only', version: options.version };
  }
  const readOnlyOn = options.base ?? (options.ephemeral ? options.workspace : undefined);
  if (readOnlyOn !== undefined) return { name: readOnlyOn, access: 'read-only' };
  if (options.workspace !== undefined) return { name: options.workspace, access: 'writable' };
  return undefined;
}

/**
 * The label naming the runtime a sandbox was started on (recovery and the sweep read it); under
 * mags' own prefix, so no label a caller chooses is overwritten by it or taken for it.
 */
export const runtimeLabel = 'mags.runtime';

/**
 * Starts the sandbox on `runtime` (default: the default runtime), through the server's scheduler
 * or the run's head start when there is one. When it cannot start, the host check usually says
 * why in words a user can act on.
 */
export async function startOrExplain(
  context: { runtime: Runtime; scheduler?: SandboxScheduler; headStart?: HeadStart },
  spec: SandboxSpec,
  runtime: Runtime = context.runtime,
): Promise<Sandbox> {
  // Labelled with its runtime: a restarted server re-attaches it through that one only, even if
  // another runtime's list() were to show it too (a microVM runs inside a namespace launcher).
  const labelled = { ...spec, labels: { ...spec.labels, [runtimeLabel]: runtime.name } };
  // A runtime that cannot filter egress is refused an allow-list, never given an open network.
  if (typeof spec.network.egress === 'object') requireCapability(runtime, 'egressAllowList');
  try {
    if (context.scheduler) return await context.scheduler.start(labelled, runtime);
    // The head start prepared a sandbox of one runtime: a run on another starts its own.
    if (context.headStart?.runtime === runtime) return await context.headStart.start(labelled);
    return await runtime.start(labelled);
  } catch (error) {
    // A busy workspace, or something missing that the error already names (an image not built).
    if (error instanceof ConflictError || error instanceof DependencyMissingError) throw error;
    const check = await runtime.check();
    if (check.ok) throw error;
    throw new DependencyMissingError(
      `This host cannot run ${runtime.name} sandboxes:\n  - ${check.problems.join('\n  - ')}`,
      {
        cause: error,
        hint: 'Fix the above (npx mags doctor checks again).',
      },
    );
  }
}

export function sandboxEnvironment(user: Record<string, string>): Record<string, string> {
  for (const key of Object.keys(user)) {
    if (!environmentKeyPattern.test(key)) {
      throw new InvalidInputError(`Invalid environment variable name ${JSON.stringify(key)}.`, {
        hint: 'Use --env NAME=value with NAME made of letters, digits and "_".',
      });
    }
  }
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    LANG: 'C.UTF-8',
    USER: 'root',
    // Node.js trusts only its built-in roots; the image's bundle includes the host's own CAs.
    NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
    ...hostGitIdentity(),
    ...user,
  };
}
