import { egressAllowList } from '../api/egress-rules.ts';
import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { selectRuntime } from '../context/select-runtime.ts';
import { ConflictError } from '../errors/mags-error.ts';
import type { Runtime, Sandbox } from '../runtimes/runtime.ts';
import type { SandboxRecord } from '../state/state-repository.ts';
import { ownerWorkspaceName } from '../workspaces/owner-workspace.ts';
import { workspaceBusyError } from '../workspaces/workspace-store.ts';
import { sandboxOptions } from './sandbox-record.ts';
import { resolveSpec, startOrExplain } from './sandbox-spec.ts';

/**
 * Starts the runtime sandbox of a long-lived sandbox's record: its workspace (the owner's), its
 * options over the context's defaults, its name as hostname, and labels that tell a restarted
 * server which record it belongs to. A busy workspace is a 409 naming it.
 */
export async function startLongLivedSandbox(
  context: MagsContext,
  record: SandboxRecord,
  instance: ServerInstance | undefined,
): Promise<Sandbox> {
  const options = sandboxOptions(record);
  const defaults = context.defaults;
  const workspace = record.workspace && ownerWorkspaceName(record.owner, record.workspace);
  const spec = resolveSpec(
    context,
    {
      workspace: workspace ?? undefined,
      image: options.image ?? defaults.image,
      limits: { ...defaults.limits, ...options.limits },
      network: options.network,
      // Its list as settled at creation; only records from before that take today's default.
      ...(options.allow
        ? egressAllowList(options.allow, true, undefined)
        : egressAllowList(undefined, options.network, defaults.allow)),
      hostname: record.name,
      // What a restarted server needs to tell which record this sandbox belongs to.
      labels: {
        ...(instance ? { server: instance.server } : {}),
        kind: 'long-lived',
        owner: record.owner,
        name: record.name,
      },
    },
    'sb',
  );
  return startOrExplain(context, spec, sandboxRuntime(context, record)).catch((error: unknown) => {
    if (error instanceof ConflictError && record.workspace) {
      throw workspaceBusyError(record.workspace);
    }
    throw error;
  });
}

/** The runtime a sandbox runs on, as its record says (`namespace` for one from before). */
export function sandboxRuntime(context: MagsContext, record: SandboxRecord): Runtime {
  return selectRuntime(context, record.runtime ?? 'namespace');
}
