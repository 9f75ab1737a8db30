import type { SandboxExit, SandboxInfo, WorkspaceReference } from '../runtime.ts';
import type { DurableExec } from './fake-durable-exec.ts';
import type { FakeLayer } from './fake-layers.ts';
import { processesInSessions, signalProcesses } from './fake-process.ts';

/**
 * A fake sandbox as it runs, apart from the handles on it (`FakeSandbox`, this process's
 * connections to it, as a server holds a namespace sandbox's agent socket): what it holds, the
 * sessions of the commands it started, and its durable execs. It lives as long as the runtime
 * object does, so that a handle can let go of it (`detach`) and another one, of another "server"
 * on the same runtime, can find it again (`attach`), the way a restarted process finds a
 * namespace sandbox.
 */
export class FakeSandboxState {
  readonly id: string;
  readonly workspace?: WorkspaceReference;
  readonly labels: Record<string, string>;
  readonly startedAt = new Date().toISOString();
  readonly layer: FakeLayer;
  /** The session id (= pid) of every command started in it. */
  readonly sessions = new Set<number>();
  /** Durable execs by key, until their end is delivered. */
  readonly execs = new Map<string, DurableExec>();
  running = true;
  paused = false;
  readonly #onStop: () => void;
  #stopping: Promise<SandboxExit> | undefined;

  constructor(options: {
    id: string;
    workspace: WorkspaceReference | undefined;
    labels: Record<string, string>;
    layer: FakeLayer;
    /** Releases its workspace lock and forgets it in the runtime. */
    onStop: () => void;
  }) {
    this.id = options.id;
    if (options.workspace !== undefined) this.workspace = options.workspace;
    this.labels = options.labels;
    this.layer = options.layer;
    this.#onStop = options.onStop;
  }

  info(): SandboxInfo {
    return {
      id: this.id,
      labels: this.labels,
      ...(this.workspace ? { workspace: this.workspace } : {}),
      startedAt: this.startedAt,
    };
  }

  stop(): Promise<SandboxExit> {
    this.#stopping ??= (async () => {
      this.running = false;
      await this.killAll();
      this.execs.clear();
      await this.layer.release();
      this.#onStop();
      return { oomKills: 0, peakMemoryBytes: undefined };
    })();
    return this.#stopping;
  }

  /** SIGKILL (which also ends stopped processes) until nothing of its sessions is left. */
  async killAll(): Promise<void> {
    for (;;) {
      const pids = await processesInSessions(this.sessions);
      if (pids.length === 0) return;
      signalProcesses(pids, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async freeze(): Promise<void> {
    signalProcesses(await processesInSessions(this.sessions), 'SIGSTOP');
    this.paused = true;
  }

  thaw(): void {
    if (!this.paused) return;
    this.paused = false;
    // Synchronous from here on: a /proc scan would let a command see the sandbox still frozen.
    for (const session of this.sessions) {
      try {
        process.kill(-session, 'SIGCONT');
      } catch {
        // The group is gone.
      }
    }
  }
}
