import type { Readable } from 'node:stream';
import type { DirectoryListing } from '../api/directory-listing.ts';
import { egressAllowList } from '../api/egress-rules.ts';
import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { requireRuntime } from '../context/select-runtime.ts';
import { ConflictError, type MagsError } from '../errors/mags-error.ts';
import type { ExecJobRequest } from '../jobs/job-manager-options.ts';
import { checkAllowListSupported } from '../runtimes/egress-policy.ts';
import { requireCapability, sandboxOperation } from '../runtimes/require-capability.ts';
import type { FileRead, Runtime, Sandbox } from '../runtimes/runtime.ts';
import type { JobRecord, SandboxRecord, StateRepository } from '../state/state-repository.ts';
import {
  freezeSandbox,
  type LiveSandbox,
  liveSandbox,
  type SleepServices,
  wakeSandbox,
} from './live-sandbox.ts';
import { OwnerStartLimit } from './owner-start-limit.ts';
import {
  type ExtractArchiveRequest,
  extractArchiveInSandbox,
  packArchiveInSandbox,
} from './sandbox-archive.ts';
import { listSandboxDirectory } from './sandbox-directory.ts';
import { type ExecJobs, submitExecJob } from './sandbox-exec-job.ts';
import {
  type ReadFileRequest,
  readSandboxFile,
  refuseDeclaredUpload,
  uploadTooLarge,
  type WriteFileRequest,
  writeSandboxFile,
} from './sandbox-files.ts';
import {
  type CreateSandboxRequest,
  newSandboxRecord,
  sandboxNotFound,
  sleepsWhenIdle,
} from './sandbox-record.ts';
import { openSandboxShell, type ShellRequest, type ShellSession } from './sandbox-shell.ts';
import type { SandboxUse } from './sandbox-use.ts';
import { sandboxRuntime, startLongLivedSandbox } from './start-long-lived-sandbox.ts';

export interface SandboxManagerOptions {
  context: MagsContext;
  repository: StateRepository;
  /** Idle time after which a sandbox that allows it is frozen; 0 never freezes. */
  sleepAfterMs?: number;
  /** Sandboxes one owner may have running or sleeping at once (default 16). */
  maxSandboxesPerOwner?: number;
  /** The server process holding the sandboxes, recorded on each (recovery after a restart). */
  instance?: ServerInstance;
}

/**
 * Long-lived sandboxes (`mags new`): started once, then used by many `exec`s, file transfers
 * and shells until stopped. A stopped sandbox keeps its workspace and starts again on request.
 * One idle for `sleepAfterMs` (no request, no exec or shell running) is frozen, and any use of
 * it (`require`) thaws it first.
 */
export class SandboxManager {
  readonly #context: MagsContext;
  readonly #repository: StateRepository;
  readonly #live = new Map<string, LiveSandbox>();
  readonly #sleepAfterMs: number;
  readonly #sleepTimer: NodeJS.Timeout | undefined;
  readonly #startLimit: OwnerStartLimit;
  readonly #instance: ServerInstance | undefined;
  readonly #sleepServices: SleepServices;
  readonly #changeListeners = new Set<(change: SandboxChange) => void>();
  /** Set once this host was declared gone (`abandon`): what every start and use is refused with. */
  #refusal: (() => MagsError) | undefined;

  constructor(options: SandboxManagerOptions) {
    this.#context = options.context;
    this.#repository = options.repository;
    this.#startLimit = new OwnerStartLimit(options.maxSandboxesPerOwner ?? 16);
    this.#sleepServices = {
      runtimeOf: (record) => sandboxRuntime(options.context, record),
      repository: options.repository,
      // The scheduler is set later, by a server: looked up at each sleep and wake.
      metrics: () => options.context.scheduler?.metrics,
      changed: (record) => this.#changed(record.owner, record.name, record),
    };
    this.#sleepAfterMs = options.sleepAfterMs ?? 10 * 60 * 1000;
    this.#instance = options.instance;
    if (this.#sleepAfterMs > 0) {
      const every = Math.max(100, Math.min(this.#sleepAfterMs / 4, 30_000));
      this.#sleepTimer = setInterval(() => void this.sleepIdle(), every);
      this.#sleepTimer.unref();
    }
  }

  /**
   * Tells `listener` of each sandbox as it is created, started, stopped, put to sleep, woken,
   * changed or deleted (`record` null), with a copy of its record then. It must not block;
   * returns the unsubscribe.
   */
  onChange(listener: (change: SandboxChange) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  #changed(owner: string, name: string, record: SandboxRecord | null): void {
    for (const listener of this.#changeListeners) {
      try {
        listener({ owner, name, record: record && { ...record } });
      } catch {} // a listener's mistake is not the sandbox's
    }
  }

  /** Sandboxes one owner may have running or sleeping; Infinity: no limit. */
  get maxPerOwner(): number {
    return this.#startLimit.maxPerOwner;
  }

  get runningCount(): number {
    return this.#live.size;
  }

  get sleepingCount(): number {
    let count = 0;
    for (const live of this.#live.values()) if (live.record.status === 'sleeping') count++;
    return count;
  }

  /** One owner's live sandboxes: running (sleeping ones included) and sleeping. */
  countsFor(owner: string): { running: number; sleeping: number } {
    let running = 0;
    let sleeping = 0;
    for (const live of this.#live.values()) {
      if (live.record.owner !== owner) continue;
      running++;
      if (live.record.status === 'sleeping') sleeping++;
    }
    return { running, sleeping };
  }

  async create(owner: string, request: CreateSandboxRequest): Promise<SandboxRecord> {
    if (this.#refusal) throw this.#refusal();
    // Its allow-list is settled now, the server's default included when it gives none: a later
    // server with other defaults does not change what an existing sandbox may reach.
    const network = request.network || Boolean(request.allow?.length);
    const allow = network
      ? (egressAllowList(request.allow, true, this.#context.defaults.allow).allow ?? [])
      : undefined;
    const record = newSandboxRecord(owner, { ...request, allow }); // a bad name fails first
    // An unknown runtime is a 400; one this host lacks, refused with what it lacks.
    const runtime = await requireRuntime(this.#context, request.runtime);
    record.runtime = runtime.name;
    checkAllowListSupported(runtime, allow);
    if (await this.#repository.getSandbox(owner, request.name)) {
      throw new ConflictError(`Sandbox ${JSON.stringify(request.name)} already exists.`, {
        code: 'sandbox_exists',
        hint: `Use it (mags exec ${request.name} ...), or delete it first (mags delete ${request.name}).`,
      });
    }
    return this.#launch(record);
  }

  /** Starts a stopped sandbox again, on the same workspace and options. */
  async start(owner: string, name: string): Promise<SandboxRecord> {
    const live = this.#live.get(key(owner, name));
    if (live) return live.record;
    return this.#launch(await this.get(owner, name));
  }

  async get(owner: string, name: string): Promise<SandboxRecord> {
    const live = this.#live.get(key(owner, name));
    if (live) return live.record;
    const record = await this.#repository.getSandbox(owner, name);
    if (!record) throw sandboxNotFound(name);
    return record;
  }

  list(owner: string): Promise<SandboxRecord[]> {
    return this.#repository.listSandboxes(owner);
  }

  /**
   * The running sandbox's record, woken and marked active: a 404 when it does not exist, a 409
   * when it is stopped. What a caller checks before it commits to a use (a shell's upgrade).
   */
  async wake(owner: string, name: string): Promise<SandboxRecord> {
    const live = await this.#running(owner, name);
    live.record.lastActiveAt = new Date().toISOString();
    await this.#wake(live);
    return { ...live.record };
  }

  /**
   * The running sandbox for one use (an exec job, a file transfer, a shell): held in use (it
   * does not sleep) until `release` is called, marked active, and woken first if it sleeps.
   * The data-plane operations below are built on it; each releases its hold itself.
   */
  async use(owner: string, name: string): Promise<SandboxUse> {
    const live = await this.#running(owner, name);
    // Held before the wake is awaited: a sleep tick meanwhile sees it in use.
    const release = this.hold(owner, name);
    live.record.lastActiveAt = new Date().toISOString();
    try {
      await this.#wake(live);
    } catch (error) {
      release();
      throw error;
    }
    return { sandbox: live.sandbox, release };
  }

  /** Runs a command in the sandbox as an exec job of `jobs`; in use until the job ends. */
  async submitExec(
    owner: string,
    name: string,
    request: ExecJobRequest,
    jobs: ExecJobs,
  ): Promise<JobRecord> {
    const use = await this.use(owner, name);
    // The job records (and keys its command for) the runtime its sandbox runs on.
    const runtime = this.#live.get(key(owner, name))?.record.runtime;
    return submitExecJob(use, { owner, name, request: { ...request, runtime }, jobs });
  }

  /**
   * Writes a file into the sandbox, atomically (a failed upload leaves nothing behind); over
   * `maxBytes`, declared or counted as it streams, it is refused (413 `too_large`).
   */
  async writeFile(owner: string, name: string, request: WriteFileRequest): Promise<void> {
    refuseDeclaredUpload(request); // before the sandbox is looked up or woken
    return writeSandboxFile(await this.use(owner, name), request);
  }

  /** Streams a regular file out of the sandbox; in use until the stream closes. */
  async readFile(owner: string, name: string, request: ReadFileRequest): Promise<FileRead> {
    return readSandboxFile(await this.use(owner, name), request);
  }

  /**
   * Extracts a tar stream under `request.path` (tar inside the sandbox; a failed or refused
   * upload leaves nothing); over `maxBytes`, declared or counted, refused with 413 `too_large`.
   */
  async writeArchive(owner: string, name: string, request: ExtractArchiveRequest): Promise<void> {
    if (request.declaredBytes !== undefined && request.declaredBytes > request.maxBytes) {
      throw uploadTooLarge(request.maxBytes); // before the sandbox is looked up or woken
    }
    const use = await this.use(owner, name);
    try {
      await extractArchiveInSandbox(use.sandbox, request);
    } finally {
      use.release();
    }
  }

  /** A tar stream of `path` (a file or a tree, links kept); in use until the stream closes. */
  async readArchive(owner: string, name: string, path: string): Promise<Readable> {
    const use = await this.use(owner, name);
    try {
      const stream = await packArchiveInSandbox(use.sandbox, path);
      stream.once('close', use.release);
      return stream;
    } catch (error) {
      use.release();
      throw error;
    }
  }

  /**
   * Labels of a sandbox this server starts for a copy into or out of a workspace: with the
   * server, so a restarted one stops it if this one died mid-copy (it holds the workspace).
   */
  copyLabels(owner: string): Record<string, string> {
    return {
      ...(this.#instance ? { server: this.#instance.server } : {}),
      kind: 'copy',
      owner,
    };
  }

  /** The owner's sandbox running (or sleeping) here on `workspace` (its owner's name), if any. */
  runningOn(owner: string, workspace: string): string | undefined {
    for (const live of this.#live.values()) {
      if (live.record.owner === owner && live.record.workspace === workspace) {
        return live.record.name;
      }
    }
    return undefined;
  }

  /**
   * A directory's entries, sorted by name, at most `maxEntries` (`truncated` past that): read
   * through the guest, not as a job, so listings never show among the owner's jobs.
   */
  async listDirectory(
    owner: string,
    name: string,
    path: string,
    maxEntries = 10_000,
  ): Promise<DirectoryListing> {
    return listSandboxDirectory(await this.use(owner, name), path, maxEntries);
  }

  /** An interactive login shell on a terminal; in use until it exits or is hung up. */
  async openShell(owner: string, name: string, request: ShellRequest): Promise<ShellSession> {
    return openSandboxShell(await this.use(owner, name), request);
  }

  /** Marks the sandbox in use until the returned function is called (a running exec or shell). */
  hold(owner: string, name: string): () => void {
    const live = this.#live.get(key(owner, name));
    if (!live) return () => {};
    live.inUse++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      live.inUse--;
      live.record.lastActiveAt = new Date().toISOString();
    };
  }

  /** Turns sleeping when idle on or off (`mags set NAME --sleep/--no-sleep`). */
  async update(owner: string, name: string, patch: { sleep: boolean }): Promise<SandboxRecord> {
    const live = this.#live.get(key(owner, name));
    const record = live?.record ?? (await this.get(owner, name));
    record.options = { ...record.options, sleep: patch.sleep };
    if (live && !patch.sleep) await this.#wake(live);
    await this.#repository.upsertSandbox(record, live && held(record, 'holding'));
    this.#changed(owner, name, record);
    return { ...record };
  }

  async stop(owner: string, name: string, reason = 'stopped on request'): Promise<SandboxRecord> {
    const live = this.#live.get(key(owner, name));
    if (!live) return this.get(owner, name);
    this.#live.delete(key(owner, name));
    await live.transition.catch(() => {});
    await live.sandbox.stop();
    const record = { ...live.record, status: 'stopped' as const, runtimeId: null, reason };
    await this.#repository.upsertSandbox(record, held(record, 'holding'));
    this.#changed(owner, name, record);
    return record;
  }

  /** Stops and forgets the sandbox; its workspace stays (mags workspace delete removes it). */
  async delete(owner: string, name: string): Promise<void> {
    await this.stop(owner, name);
    await this.#repository.deleteSandbox(owner, name);
    this.#changed(owner, name, null);
  }

  /**
   * A running sandbox a gone server process started, attached again: live here from now on, in
   * the state it was recorded in (a sleeping one stays asleep), idle since it was last used.
   */
  adopt(record: SandboxRecord, sandbox: Sandbox): void {
    this.#live.set(
      key(record.owner, record.name),
      liveSandbox({ ...record, ...this.#instance }, sandbox),
    );
  }

  /** A sandbox recorded as running whose runtime sandbox is gone: stopped, with why. */
  async markGone(record: SandboxRecord, reason: string): Promise<void> {
    const stopped: SandboxRecord = {
      ...record,
      ...this.#instance,
      status: 'stopped',
      runtimeId: null,
      reason,
    };
    await this.#repository.upsertSandbox(stopped);
    this.#changed(record.owner, record.name, stopped);
  }

  /**
   * Lets go of every sandbox, leaving it running for the next server process; one on a runtime
   * without `reattach` is stopped instead (it cannot outlive this process). Throws
   * `CapabilityUnsupportedError`, letting go of nothing, unless the default runtime has `reattach`.
   */
  async detach(): Promise<void> {
    requireCapability(this.#context.runtime, 'reattach');
    clearInterval(this.#sleepTimer);
    const live = [...this.#live.values()];
    const stopping = live.filter(({ record }) => !this.#runtimeOf(record).capabilities.reattach);
    await Promise.allSettled(
      stopping.map(({ record }) => this.stop(record.owner, record.name, 'the server shut down')),
    );
    this.#live.clear();
    await Promise.allSettled(
      live
        .filter((entry) => !stopping.includes(entry))
        .map(async ({ record, sandbox, transition }) => {
          await transition.catch(() => {});
          await sandboxOperation(this.#runtimeOf(record), sandbox, 'detach')();
        }),
    );
  }

  #runtimeOf(record: SandboxRecord): Runtime {
    return sandboxRuntime(this.#context, record);
  }

  /**
   * This host was declared gone by another server, which recorded its sandboxes stopped already:
   * they are stopped here without a word to the state, and every start and use from now on is
   * refused with `refusal`'s error.
   */
  async abandon(refusal: () => MagsError): Promise<void> {
    this.#refusal = refusal;
    clearInterval(this.#sleepTimer);
    const live = [...this.#live.values()];
    this.#live.clear();
    await Promise.allSettled(
      live.map(async ({ sandbox, transition }) => {
        await transition.catch(() => {});
        await sandbox.stop();
      }),
    );
  }

  async shutdown(): Promise<void> {
    clearInterval(this.#sleepTimer);
    await Promise.allSettled(
      [...this.#live.values()].map(({ record }) =>
        this.stop(record.owner, record.name, 'the server shut down'),
      ),
    );
  }

  /** The live sandbox: a 404 when it does not exist, a 409 when it is stopped. */
  async #running(owner: string, name: string): Promise<LiveSandbox> {
    if (this.#refusal) throw this.#refusal();
    const live = this.#live.get(key(owner, name));
    if (live) return live;
    await this.get(owner, name); // 404 when it does not exist at all
    throw new ConflictError(`Sandbox ${JSON.stringify(name)} is stopped.`, {
      code: 'sandbox_stopped',
      hint: `Start it again: mags start ${name}`,
    });
  }

  async #launch(record: SandboxRecord): Promise<SandboxRecord> {
    if (this.#refusal) throw this.#refusal();
    const release = this.#startLimit.reserve(record.owner, this.countsFor(record.owner).running);
    try {
      return await this.#startRecord(record);
    } finally {
      release();
    }
  }

  async #startRecord(record: SandboxRecord): Promise<SandboxRecord> {
    const sandbox = await startLongLivedSandbox(this.#context, record, this.#instance);
    const at = new Date().toISOString();
    const running: SandboxRecord = {
      ...record,
      ...this.#instance,
      status: 'running',
      runtimeId: sandbox.id,
      reason: null,
      lastActiveAt: at,
    };
    this.#live.set(key(record.owner, record.name), liveSandbox(running, sandbox));
    // Over a stopped record only (or its own): one started meanwhile on another host stays there.
    if ((await this.#repository.upsertSandbox(running, held(running, 'starting'))) === false) {
      this.#live.delete(key(record.owner, record.name));
      await sandbox.stop().catch(() => {});
      throw new ConflictError(
        `Sandbox ${JSON.stringify(record.name)} was started on another host meanwhile.`,
        {
          code: 'sandbox_elsewhere',
          hint: `Use it there (mags exec ${record.name} ...), or stop it first (mags stop ${record.name}).`,
        },
      );
    }
    if (record.workspace) await this.#repository.touchWorkspace(record.owner, record.workspace, at);
    this.#changed(record.owner, record.name, running);
    return running;
  }

  /**
   * Freezes the sandboxes that allow it, are not in use and have been idle for `sleepAfterMs`.
   * A timer calls it; calling it directly makes the check happen now.
   */
  async sleepIdle(): Promise<void> {
    const cutoff = Date.now() - this.#sleepAfterMs;
    for (const live of this.#live.values()) {
      const { record } = live;
      if (record.status !== 'running' || !sleepsWhenIdle(record)) continue;
      // A runtime that cannot freeze keeps its sandboxes awake.
      if (live.inUse > 0 || !this.#runtimeOf(record).capabilities.pause) continue;
      if (Date.parse(record.lastActiveAt) > cutoff) continue;
      await freezeSandbox(live, this.#sleepServices).catch(() => {}); // it stays awake
    }
  }

  #wake(live: LiveSandbox): Promise<void> {
    return wakeSandbox(live, this.#sleepServices);
  }
}

/** A sandbox that changed (`SandboxManager.onChange`); `record` null: it was deleted. */
export interface SandboxChange {
  owner: string;
  name: string;
  record: SandboxRecord | null;
}

const key = (owner: string, name: string) => `${owner}/${name}`;

/**
 * How a write of a record this process holds is conditioned (`upsertSandbox`): on it still being
 * this process's; none for a record of no server process (a job system without an instance).
 */
export function held(
  record: SandboxRecord,
  how: 'holding' | 'starting',
): 'holding' | 'starting' | undefined {
  return record.server ? how : undefined;
}
