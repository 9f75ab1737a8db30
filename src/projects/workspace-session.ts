import type { AgentSandbox } from '../agents/agent-sandbox.ts';
import { execInSandbox, runtimeAgentSandbox } from '../agents/runtime-agent-sandbox.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { ConflictError } from '../errors/mags-error.ts';
import type { Sandbox } from '../runtimes/runtime.ts';
import { resolveSpec, sandboxEnvironment, startOrExplain } from '../sandboxes/sandbox-spec.ts';
import { workspaceBusyError } from '../workspaces/workspace-store.ts';

/** What a failed command's message quotes of its output. */
const tailBytes = 4000;

export interface WorkspaceSessionOptions {
  /** The workspace's storage name (`ownerWorkspaceName`): the sandbox writes to it. */
  workspace: string;
  /** Outbound network (a clone from a URL, a setup that downloads dependencies). */
  network?: boolean;
  /** The base image (default: the context's). */
  image?: string;
  /** Labels of the sandbox (who started it and why), for listings and recovery. */
  labels?: Record<string, string>;
  /** Environment of every command, over the sandbox defaults (PATH, HOME, ...). */
  env?: Record<string, string>;
}

/** How a command of the platform's own ended: its exit code and the tail of its output. */
export interface SessionCommandResult {
  exitCode: number | null;
  timedOut: boolean;
  /** The last `tailBytes` of stdout and stderr interleaved. */
  tail: string;
}

export interface WorkspaceSession {
  /** Commands and files inside the sandbox, the same tools an agent gets. */
  sandbox: AgentSandbox;
  /**
   * Runs an exact argv in /workspace, its output streamed to `onOutput` as it comes (a clone's
   * progress, a setup's log) and its tail kept for an error message.
   */
  run(
    argv: string[],
    options?: {
      onOutput?: (text: string) => void;
      timeoutMs?: number;
      env?: Record<string, string>;
      cwd?: string;
    },
  ): Promise<SessionCommandResult>;
  /** The runtime sandbox underneath (its id, for logs). */
  runtimeSandbox: Sandbox;
  /** Stops the sandbox; the workspace keeps what was written. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * A sandbox on a workspace, writable, for the platform's own commands (a project's clone and
 * setup, a ticket's checks): started through the scheduler when a server has one (a parked
 * sandbox of the workspace is evicted first; the runtime's launcher takes the workspace's lock,
 * so a run on it at the same time is a 409 `workspace_busy`), else straight on the runtime.
 */
export async function openWorkspaceSession(
  context: MagsContext,
  options: WorkspaceSessionOptions,
): Promise<WorkspaceSession> {
  const spec = resolveSpec(
    context,
    {
      workspace: options.workspace,
      image: options.image ?? context.defaults.image,
      limits: context.defaults.limits,
      network: options.network ?? false,
      ...(options.labels ? { labels: options.labels } : {}),
    },
    'platform',
  );
  const runtimeSandbox = await startOrExplain(context, spec).catch((error: unknown) => {
    if (error instanceof ConflictError) throw workspaceBusyError(options.workspace);
    throw error;
  });
  let closed: Promise<unknown> | undefined;
  const environment = sandboxEnvironment(options.env ?? {});
  return {
    sandbox: runtimeAgentSandbox(runtimeSandbox, { env: options.env ?? {} }),
    runtimeSandbox,
    async run(argv, runOptions = {}) {
      let tail = '';
      const ended = await execInSandbox(runtimeSandbox, {
        argv,
        env: { ...environment, ...runOptions.env },
        cwd: runOptions.cwd ?? '/workspace',
        timeoutMs: runOptions.timeoutMs ?? context.defaults.timeoutMs,
        onOutput: (chunk) => {
          const text = chunk.toString('utf8');
          runOptions.onOutput?.(text);
          tail = (tail + text).slice(-tailBytes);
        },
      }).catch(() => ({ exitCode: null, timedOut: false }));
      return { exitCode: ended.exitCode, timedOut: ended.timedOut, tail };
    },
    close: async () => {
      closed ??= runtimeSandbox.stop();
      await closed;
    },
  };
}

/** Runs `work` in a session on the workspace and stops the sandbox afterwards, whatever happens. */
export async function withWorkspaceSession<T>(
  context: MagsContext,
  options: WorkspaceSessionOptions,
  work: (sandbox: AgentSandbox, session: WorkspaceSession) => Promise<T>,
): Promise<T> {
  const session = await openWorkspaceSession(context, options);
  try {
    return await work(session.sandbox, session);
  } finally {
    await session.close();
  }
}
