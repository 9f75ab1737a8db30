import { formatMiB } from '../config/byte-sizes.ts';
import type { MagsContext } from '../context/mags-context.ts';
import type { ExecResult, Sandbox, SandboxProcess } from '../runtimes/runtime.ts';
import type { ParkingTerms } from '../scheduling/warm-cache.ts';
import type { SyncProgress } from '../workspaces/sync/push-workspace.ts';
import { isFull } from '../workspaces/workspace-disk.ts';
import type { CommandDeadline } from './command-deadline.ts';
import type { RunResult } from './run-command.ts';

export interface RunEndingOptions {
  sandbox: Sandbox;
  /** The workspace (storage name) the run writes to, if any. */
  writes: string | undefined;
  /** The workspace a sandbox that can serve its next run is parked for (a server's runs). */
  parkAs: string | undefined;
  /** What a parked sandbox was started with: a later run takes it only on the same terms. */
  terms: ParkingTerms;
}

/**
 * The end of a run, the same whether this process started its command (`runCommand`) or picked
 * it up after a restart (`continueRun`): read the output to its end, tear the sandbox down or
 * park it, sync the workspace. `release` (in a `finally`) stops the sandbox unless it was parked
 * and records the workspace's run, whatever failed before.
 */
export class RunEnding {
  readonly #context: MagsContext;
  readonly #options: RunEndingOptions;
  #parked = false;
  #marking: Promise<void> | undefined;

  constructor(context: MagsContext, options: RunEndingOptions) {
    this.#context = context;
    this.#options = options;
  }

  async finish(ended: {
    command: SandboxProcess;
    result: ExecResult;
    deadline: CommandDeadline;
    persist: boolean | undefined;
    onSyncProgress?: (progress: SyncProgress) => void;
    /** OOM kills the sandbox had before this run (a parked one's): not this run's. */
    oomKillsBefore: number;
    /** `performance.now()` when the run began. */
    startedAt: number;
  }): Promise<RunResult> {
    const context = this.#context;
    const { sandbox, writes, parkAs, terms } = this.#options;
    const { command, deadline } = ended;
    await Promise.all([drained(command.stdout), drained(command.stderr)]);
    const diskFull = writes === undefined ? undefined : await diskFullNotice(context, writes);
    // Bookkeeping runs beside the teardown or parking: a warm run's end waits for neither alone.
    if (writes !== undefined) this.#marking = context.workspaces.markRun(writes);
    const usage = await sandbox.usage();
    deadline.clear();
    const { timedOut, stopped: cancelled } = deadline;
    const reusable =
      timedOut || cancelled ? 'stopped' : reusability(sandbox.isRunning(), usage.processes);
    // Without parking, the sandbox goes before the sync: the layer is quiet either way.
    if (parkAs === undefined || reusable !== true) await sandbox.stop();
    // Durability does not wait for anything else: the layer is synced as soon as the sandbox is gone.
    const sync =
      ended.persist && writes !== undefined
        ? await context.sync.push(writes, ended.onSyncProgress)
        : undefined;
    if (parkAs !== undefined) {
      await context.scheduler?.park(parkAs, {
        sandbox,
        ...terms,
        oomKills: usage.oomKills,
        memoryBytes: usage.memoryBytes ?? 0,
        reusable,
      });
      this.#parked = true;
    }
    return {
      sync,
      diskFull,
      sandboxId: sandbox.id,
      exitCode: ended.result.exitCode,
      signal: ended.result.signal,
      timedOut,
      cancelled,
      oomKilled: usage.oomKills > ended.oomKillsBefore,
      durationMs: performance.now() - ended.startedAt,
      warnings: sandbox.warnings,
    };
  }

  async release(): Promise<void> {
    const { sandbox, writes } = this.#options;
    if (!this.#parked) await sandbox.stop();
    if (writes !== undefined) await (this.#marking ?? this.#context.workspaces.markRun(writes));
  }
}

/** Says so when a run ended with its workspace's disk (nearly) full; undefined otherwise. */
async function diskFullNotice(context: MagsContext, name: string): Promise<string | undefined> {
  const usage = await context.workspaces.diskUsage(name).catch(() => undefined);
  if (!usage || !isFull(usage)) return undefined;
  return `the workspace's disk is full (--disk ${formatMiB(usage.diskMiB)}): writes failed with "No space left on device". Delete files in it, or run again with a larger --disk`;
}

/**
 * Whether a sandbox can serve its workspace's next run (the parking policy, README): not if it
 * died, and not if the run left processes behind, which the next run must not meet.
 */
function reusability(running: boolean, processes: number | undefined): string | true {
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
