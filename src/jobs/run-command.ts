import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { RunOptions } from '../api/run-options.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { selectRuntime } from '../context/select-runtime.ts';
import { ConflictError, InvalidInputError, MagsError } from '../errors/mags-error.ts';
import type { ResourceLimits, Sandbox } from '../runtimes/runtime.ts';
import { extractArchiveInSandbox } from '../sandboxes/sandbox-archive.ts';
import { resolveSpec, sandboxEnvironment, startOrExplain } from '../sandboxes/sandbox-spec.ts';
import type { PushResult, SyncProgress } from '../workspaces/sync/push-workspace.ts';
import { validateWorkspaceName } from '../workspaces/workspace-name.ts';
import { workspaceBusyError } from '../workspaces/workspace-store.ts';
import { type CommandDeadline, commandDeadline } from './command-deadline.ts';
import { reportEgressBlocked } from './egress-blocked-reporter.ts';
import { RunEnding } from './run-ending.ts';

/**
 * One run as the job system performs it: the client's options (`RunOptions`, the API schema)
 * with every default filled in and the output's destinations.
 */
export type RunCommandOptions = Pick<
  RunOptions,
  'workspace' | 'base' | 'ephemeral' | 'persist' | 'version' | 'env' | 'runtime' | 'allow'
> & {
  argv: string[];
  onSyncProgress?: (progress: SyncProgress) => void;
  /** Files written into /workspace before the command starts (staged uploads, host files). */
  files?: RunUpload[];
  /** Wall-clock limit; the command gets SIGTERM, then everything is killed after `killGraceMs`. */
  timeoutMs: number;
  killGraceMs?: number;
  limits: ResourceLimits;
  network: boolean;
  image: string;
  stdout: Writable;
  stderr: Writable;
  /** Aborting stops the command the same way a timeout does (a stop request). */
  signal?: AbortSignal;
  /** Called once the sandbox is up, before files are uploaded. */
  onStarted?: (sandbox: Sandbox) => void;
  /** Labels of a fresh sandbox (a server's: who started it and for which job). */
  labels?: Record<string, string>;
  /** Makes the command durable (ExecRequest.key): a restarted server picks it up again. */
  execKey?: string;
};

/** A file on this host that a run writes into its /workspace as `name`. */
export interface RunUpload {
  source: string;
  name: string;
  mode: number;
  /** `source` is a tar stream of a tree whose top-level entry is `name`: extracted, not copied. */
  archive?: boolean;
}

export interface RunResult {
  sandboxId: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** The kernel's OOM killer killed a process because of the memory limit. */
  oomKilled: boolean;
  /** With `persist`: what the sync after the run did. */
  sync?: PushResult;
  /** The workspace's disk was full when the command ended: what to tell the user. */
  diskFull?: string;
  durationMs: number;
  warnings: string[];
}

/** The workspace a run writes to: none for a read-only, throw-away or versioned run. */
export function writtenWorkspace(
  run: Pick<RunOptions, 'workspace' | 'ephemeral' | 'version'>,
): string | undefined {
  return run.workspace !== undefined && !run.ephemeral && run.version === undefined
    ? run.workspace
    : undefined;
}

/** Runs one command in a fresh sandbox on the requested layers and tears the sandbox down. */
export async function runCommand(
  context: MagsContext,
  options: RunCommandOptions,
): Promise<RunResult> {
  const startedAt = performance.now();
  if (options.argv.length === 0) throw new InvalidInputError('No command given.');
  const environment = sandboxEnvironment(options.env ?? {});
  const runtime = selectRuntime(context, options.runtime);
  const uploads = options.files ?? [];
  if (options.persist && options.workspace !== undefined && options.version === undefined) {
    const name = options.workspace;
    await restoreIfNeeded(context, name, options.image, options.onSyncProgress).catch(
      async (error: unknown) => {
        // Another host moved the workspace on: this host's parked sandbox of it is stale, and
        // would hold the lock the pull the user is told to run needs.
        if (error instanceof ConflictError) await context.scheduler?.invalidate(name);
        throw error;
      },
    );
  }
  // The workspace this run writes to, if any: only such a run can park its sandbox for the next.
  const writes = writtenWorkspace(options);
  const parkAs = context.scheduler ? writes : undefined;
  const terms = {
    runtime: runtime.name,
    image: options.image,
    network: options.network,
    limits: options.limits,
    ...(options.allow ? { allow: options.allow } : {}),
  };
  // A larger --disk grows the disk, which needs it unused: a parked sandbox of it goes first.
  if (writes !== undefined && options.limits.diskMiB !== undefined) {
    const info = await context.workspaces.get(writes);
    if (info?.diskMiB !== undefined && options.limits.diskMiB > info.diskMiB) {
      await context.scheduler?.invalidate(writes);
    }
  }
  const parked =
    parkAs === undefined
      ? undefined
      : await context.scheduler?.takeParked(parkAs, terms, options.limits);
  let sandbox = parked?.sandbox;
  if (!sandbox) {
    const spec = resolveSpec(context, options);
    if (spec.workspace?.version !== undefined && options.onSyncProgress) {
      // The runtime fetches a stored version itself, silently; fetched here first (into the
      // host's cache, where it finds it), a user watching sees the download's progress.
      await context.sync.snapshot(
        spec.workspace.name,
        spec.workspace.version,
        options.onSyncProgress,
      );
    }
    sandbox = await startOrExplain(context, spec, runtime).catch((error: unknown) => {
      // The launcher only knows a lock was busy; here we know which workspace that was.
      const busy = options.base ?? options.workspace;
      if (error instanceof ConflictError && busy !== undefined) throw workspaceBusyError(busy);
      throw error;
    });
  }
  const ending = new RunEnding(context, { sandbox, writes, parkAs, terms });
  options.onStarted?.(sandbox);
  let deadline: CommandDeadline | undefined;
  try {
    for (const upload of uploads) {
      if (upload.archive) {
        await extractArchiveInSandbox(sandbox, {
          path: '/workspace',
          data: createReadStream(upload.source)[Symbol.asyncIterator](),
          maxBytes: Number.POSITIVE_INFINITY, // its size was checked when it was uploaded
        });
        continue;
      }
      await sandbox.writeFile(`/workspace/${upload.name}`, createReadStream(upload.source), {
        mode: upload.mode,
      });
    }
    const command = sandbox.exec({
      argv: options.argv,
      env: environment,
      cwd: '/workspace',
      ...(options.execKey ? { key: options.execKey } : {}),
    });
    command.stdout.pipe(options.stdout, { end: false });
    command.stderr.pipe(options.stderr, { end: false });
    const blocked = reportEgressBlocked(sandbox, options.stderr, Boolean(options.allow?.length));
    const running = sandbox;
    deadline = commandDeadline({
      timeoutMs: options.timeoutMs,
      killGraceMs: options.killGraceMs ?? 2000,
      signal: options.signal,
      terminate: () => command.signal('SIGTERM'),
      // A command that ignores SIGTERM loses the whole sandbox after the grace period.
      kill: () => void running.stop(),
    });
    const result = await command.exited.catch((error: unknown) => {
      // A program that could not start is the shell's 127, with the runtime's reason (the
      // runtime contract: exec failures reject with code guest_exec_failed).
      if (error instanceof MagsError && error.code === 'guest_exec_failed') {
        options.stderr.write(`mags: ${error.message}\n`);
        return { exitCode: 127, signal: null };
      }
      return { exitCode: null, signal: 'SIGKILL' }; // the sandbox was killed under it
    });
    await blocked.finish();
    return await ending.finish({
      command,
      result,
      deadline,
      persist: options.persist,
      onSyncProgress: options.onSyncProgress,
      oomKillsBefore: parked?.oomKills ?? 0,
      startedAt,
    });
  } finally {
    deadline?.clear();
    await ending.release();
  }
}

/**
 * A persistent workspace this host has never seen is restored from the store first. One whose
 * store has moved on (another host synced it) is not silently replaced: the user decides.
 */
async function restoreIfNeeded(
  context: MagsContext,
  name: string,
  image: string,
  onProgress: ((progress: SyncProgress) => void) | undefined,
): Promise<void> {
  validateWorkspaceName(name);
  const local = await context.workspaces.get(name);
  const versions = await context.sync.versions(name);
  const latest = versions.at(-1)?.version;
  if (latest === undefined) return;
  if (!local) {
    await context.sync.pull(name, { version: latest, image, onProgress });
    return;
  }
  if ((local.remoteVersion ?? 0) < latest) {
    throw new ConflictError(
      `Workspace ${JSON.stringify(name)} has version ${latest} in the store, newer than this host's copy (${local.remoteVersion === undefined ? 'never synced' : `version ${local.remoteVersion}`}).`,
      {
        workspace: name,
        code: 'sync_conflict',
        hint: `Take the stored version with: mags workspace pull ${name}  (this replaces the local copy), or delete the local copy.`,
      },
    );
  }
}
