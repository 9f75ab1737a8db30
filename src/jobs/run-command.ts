import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { RunOptions } from '../api/run-options.ts';
import { formatMiB } from '../config/byte-sizes.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { ConflictError, InvalidInputError, MagsError } from '../errors/mags-error.ts';
import type { ResourceLimits, Sandbox } from '../runtimes/runtime.ts';
import { resolveSpec, sandboxEnvironment, startOrExplain } from '../sandboxes/sandbox-spec.ts';
import type { PushResult, SyncProgress } from '../workspaces/sync/push-workspace.ts';
import { isFull } from '../workspaces/workspace-disk.ts';
import { validateWorkspaceName } from '../workspaces/workspace-name.ts';
import { workspaceBusyError } from '../workspaces/workspace-store.ts';
import { type CommandDeadline, commandDeadline } from './command-deadline.ts';

/**
 * One run as the job system performs it: the client's options (`RunOptions`, the API schema)
 * with every default filled in and the output's destinations.
 */
export type RunCommandOptions = Pick<
  RunOptions,
  'workspace' | 'base' | 'ephemeral' | 'persist' | 'version' | 'env'
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

/** Runs one command in a fresh sandbox on the requested layers and tears the sandbox down. */
export async function runCommand(
  context: MagsContext,
  options: RunCommandOptions,
): Promise<RunResult> {
  const startedAt = performance.now();
  if (options.argv.length === 0) throw new InvalidInputError('No command given.');
  const environment = sandboxEnvironment(options.env ?? {});
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
  const writes =
    options.workspace !== undefined && !options.ephemeral && options.version === undefined
      ? options.workspace
      : undefined;
  const parkAs = context.scheduler ? writes : undefined;
  const terms = { image: options.image, network: options.network };
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
    sandbox = await startOrExplain(context, spec).catch((error: unknown) => {
      // The launcher only knows a lock was busy; here we know which workspace that was.
      const busy = options.base ?? options.workspace;
      if (error instanceof ConflictError && busy !== undefined) throw workspaceBusyError(busy);
      throw error;
    });
  }
  const oomKillsBefore = parked?.oomKills ?? 0;
  let reusable: string | true = 'not_finished';
  let marking: Promise<void> | undefined;
  options.onStarted?.(sandbox);
  let deadline: CommandDeadline | undefined;
  try {
    for (const upload of uploads) {
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
    await Promise.all([drained(command.stdout), drained(command.stderr)]);
    const diskFull = writes === undefined ? undefined : await diskFullNotice(context, writes);
    // Bookkeeping runs beside the teardown or parking: a warm run's end waits for neither alone.
    if (writes !== undefined) marking = context.workspaces.markRun(writes);
    const usage = await sandbox.usage();
    deadline.clear();
    const { timedOut, stopped: cancelled } = deadline;
    reusable =
      timedOut || cancelled ? 'stopped' : reusability(sandbox.isRunning(), usage.processes);
    // Without parking, the sandbox goes before the sync: the layer is quiet either way.
    if (parkAs === undefined || reusable !== true) await sandbox.stop();
    // Durability does not wait for anything else: the layer is synced as soon as the sandbox is gone.
    const sync =
      options.persist && writes !== undefined
        ? await context.sync.push(writes, options.onSyncProgress)
        : undefined;
    if (parkAs !== undefined) {
      await context.scheduler?.park(parkAs, {
        sandbox,
        ...terms,
        oomKills: usage.oomKills,
        memoryBytes: usage.memoryBytes ?? 0,
        reusable,
      });
      reusable = 'parked';
    }
    return {
      sync,
      diskFull,
      sandboxId: sandbox.id,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut,
      cancelled,
      oomKilled: usage.oomKills > oomKillsBefore,
      durationMs: performance.now() - startedAt,
      warnings: sandbox.warnings,
    };
  } finally {
    deadline?.clear();
    if (reusable !== 'parked') await sandbox.stop();
    if (writes !== undefined) await (marking ?? context.workspaces.markRun(writes));
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

/** Says so when a run ended with its workspace's disk (nearly) full; undefined otherwise. */
export async function diskFullNotice(
  context: MagsContext,
  name: string,
): Promise<string | undefined> {
  const usage = await context.workspaces.diskUsage(name).catch(() => undefined);
  if (!usage || !isFull(usage)) return undefined;
  return `the workspace's disk is full (--disk ${formatMiB(usage.diskMiB)}): writes failed with "No space left on device". Delete files in it, or run again with a larger --disk`;
}

/**
 * Whether a sandbox can serve its workspace's next run (the parking policy, README): not if it
 * died, and not if the run left processes behind, which the next run must not meet.
 */
export function reusability(running: boolean, processes: number | undefined): string | true {
  if (!running) return 'died';
  if (processes === undefined) return 'unknown_processes';
  return processes > 0 ? 'processes_left' : true;
}

/** Settles once a command's output stream has ended (or failed): all its output was read. */
export function drained(
  stream: NodeJS.ReadableStream & { readableEnded?: boolean },
): Promise<void> {
  if (stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}
