import type { MagsContext } from '../context/mags-context.ts';
import { ConflictError, NotFoundError } from '../errors/mags-error.ts';
import type { Sandbox } from '../runtimes/runtime.ts';
import { workspaceBusyError } from '../workspaces/workspace-store.ts';
import { resolveSpec, startOrExplain } from './sandbox-spec.ts';

/** A sandbox on a workspace for one copy in or out; `release` parks or stops it. */
export interface WorkspaceCopySandbox {
  sandbox: Sandbox;
  release(): Promise<void>;
}

export interface WorkspaceCopyOptions {
  /** The workspace's storage name (`ownerWorkspaceName`). */
  workspace: string;
  /** The name the owner knows it by, for messages. */
  displayName: string;
  /** A copy out of a workspace this host does not have is a 404, not a new empty workspace. */
  mustExist: boolean;
  /** Labels of a fresh sandbox (a server's: who started it). */
  labels?: Record<string, string>;
}

/**
 * A sandbox writing the workspace, for a copy when no long-lived sandbox runs on it: the way a
 * run of the workspace gets one (its parked sandbox when a server keeps one, else a fresh one on
 * the workspace's layer), so what the copy writes lands in the workspace and the next run sees
 * it. Released, it is parked for the next run when a scheduler parks sandboxes, else stopped.
 */
export async function openWorkspaceCopySandbox(
  context: MagsContext,
  options: WorkspaceCopyOptions,
): Promise<WorkspaceCopySandbox> {
  const { workspace } = options;
  if (options.mustExist && !(await context.workspaces.get(workspace))) {
    throw new NotFoundError(`No workspace ${JSON.stringify(options.displayName)} on this host.`, {
      code: 'workspace_not_found',
      hint: 'mags workspace list shows yours; one stored but not on this host comes back with mags workspace pull NAME.',
    });
  }
  const terms = {
    runtime: context.runtime.name,
    image: context.defaults.image,
    network: false,
    limits: context.defaults.limits,
  };
  const parked = await context.scheduler?.takeParked(workspace, terms, terms.limits);
  const sandbox =
    parked?.sandbox ??
    (await startOrExplain(
      context,
      resolveSpec(
        context,
        {
          workspace,
          image: terms.image,
          limits: terms.limits,
          network: false,
          ...(options.labels ? { labels: options.labels } : {}),
        },
        'copy',
      ),
    ).catch((error: unknown) => {
      // The launcher only knows a lock was busy; here we know which workspace that was.
      if (error instanceof ConflictError) throw workspaceBusyError(options.displayName);
      throw error;
    }));
  let released = false;
  return {
    sandbox,
    async release() {
      if (released) return;
      released = true;
      const scheduler = context.scheduler;
      if (!scheduler) {
        await sandbox.stop();
        return;
      }
      // Handed back to the scheduler either way (it stops one it will not park).
      const running = sandbox.isRunning();
      const usage = running ? await sandbox.usage().catch(() => undefined) : undefined;
      await scheduler.park(workspace, {
        sandbox,
        ...terms,
        oomKills: usage?.oomKills ?? parked?.oomKills ?? 0,
        memoryBytes: usage?.memoryBytes ?? 0,
        reusable: !running ? 'died' : usage?.processes === 0 ? true : 'processes_left',
      });
    },
  };
}
