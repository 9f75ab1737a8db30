import type { Writable } from 'node:stream';
import type { StoredRunOptions } from '../api/run-options.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { MagsError } from '../errors/mags-error.ts';
import { sandboxOperation } from '../runtimes/require-capability.ts';
import type { Runtime, Sandbox } from '../runtimes/runtime.ts';
import { ownerWorkspaceName } from '../workspaces/owner-workspace.ts';
import { commandDeadline } from './command-deadline.ts';
import { type RunResult, writtenWorkspace } from './run-command.ts';
import { RunEnding } from './run-ending.ts';

/**
 * The workspace (its storage name, owner-qualified) a run writes to, if any: the one it syncs
 * with `persist` and parks its sandbox for. A read-only, throw-away or versioned run writes none.
 */
export function runWrites(
  owner: string,
  run: Pick<StoredRunOptions, 'workspace' | 'ephemeral' | 'version'>,
): string | undefined {
  const workspace = writtenWorkspace(run);
  return workspace === undefined ? undefined : ownerWorkspaceName(owner, workspace);
}

export interface ContinueRunOptions {
  sandbox: Sandbox;
  /** The runtime the sandbox runs on (the job's). */
  runtime: Runtime;
  /** The command's durable exec key (the job id). */
  key: string;
  /** Bytes of each stream the job's log already holds: the replay starts after them. */
  offsets: { stdoutOffset: number; stderrOffset: number };
  run: StoredRunOptions;
  /** Whose run it is (its workspace's storage name is the owner's). */
  owner: string;
  /** When the job started: its timeout counts from there. */
  startedAt: string;
  killGraceMs: number;
  stdout: Writable;
  stderr: Writable;
  signal: AbortSignal;
}

/**
 * The second half of `runCommand` for a run another server process started and died in the
 * middle of: picks its command up again (RESUME from the stored offsets), waits for it, then
 * tears down or parks the sandbox and syncs the workspace, as the run would have.
 */
export async function continueRun(
  context: MagsContext,
  options: ContinueRunOptions,
): Promise<RunResult> {
  const startedAt = performance.now();
  const { sandbox, run } = options;
  // CapabilityUnsupportedError on a runtime whose sandboxes do not outlive their server.
  const resumeExec = sandboxOperation(options.runtime, sandbox, 'resumeExec');
  const command = resumeExec(options.key, options.offsets);
  const point = await command.resumed.catch((error: unknown) => {
    throw lostCommand(error);
  });
  const lost =
    point.stdoutOffset -
    options.offsets.stdoutOffset +
    (point.stderrOffset - options.offsets.stderrOffset);
  if (lost > 0) {
    options.stderr.write(lostOutputNotice(lost));
  }
  command.stdout.pipe(options.stdout, { end: false });
  command.stderr.pipe(options.stderr, { end: false });
  const writes = runWrites(options.owner, run);
  const ending = new RunEnding(context, {
    sandbox,
    writes,
    parkAs: context.scheduler ? writes : undefined,
    terms: {
      runtime: options.runtime.name,
      image: run.image,
      network: run.network,
      limits: run.limits,
      ...(run.allow ? { allow: run.allow } : {}),
    },
  });
  // The run's one timeout (commandDeadline, as in runCommand), counted from the job's start: the
  // time before the restart counts.
  const timeoutMs = run.timeoutSeconds * 1000;
  const deadline = commandDeadline({
    timeoutMs: Math.max(0, Date.parse(options.startedAt) + timeoutMs - Date.now()),
    killGraceMs: options.killGraceMs,
    signal: options.signal,
    terminate: () => command.signal('SIGTERM'),
    // A command that ignores SIGTERM loses the whole sandbox after the grace period.
    kill: () => void sandbox.stop(),
  });
  try {
    const result = await command.exited.catch((error: unknown) => {
      if (error instanceof MagsError && error.code === 'guest_exec_failed')
        throw lostCommand(error);
      return { exitCode: null, signal: 'SIGKILL' }; // the sandbox was killed under it
    });
    return await ending.finish({
      command,
      result,
      deadline,
      persist: run.persist,
      // Kills before the restart count too: a parked sandbox's earlier ones are not told apart.
      oomKillsBefore: 0,
      startedAt,
    });
  } finally {
    deadline.clear();
    await ending.release();
  }
}

/** Why a job ends failed when its command's end went to the server process that died. */
export const lostCommandReason =
  'the server stopped just as the command ended, before it recorded how: its exit status is lost';

/** What a resumed job's output says when bytes read by the dead server were never stored. */
export const lostOutputNotice = (bytes: number) =>
  `mags: ${bytes} bytes of output were lost while the server restarted (read but not yet stored when it stopped)\n`;

/** The sandbox no longer knows the command (errno 2): its end went to the server that died. */
export function lostCommand(error: unknown): MagsError {
  const errno = (error as { errno?: number }).errno;
  return new MagsError(
    errno === 2
      ? lostCommandReason
      : `the command could not be picked up again after the server restarted: ${(error as Error).message}`,
    { code: 'job_lost', cause: error },
  );
}
