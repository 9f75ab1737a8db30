import type { StoredRunOptions } from '../api/run-options.ts';
import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { requireRuntime } from '../context/select-runtime.ts';
import { ConflictError } from '../errors/mags-error.ts';
import type { ExecRequest, Sandbox, SandboxProcess } from '../runtimes/runtime.ts';
import type { JobFilter, JobRecord, LogChunk, StateRepository } from '../state/state-repository.ts';
import { planExecJob } from './exec-job.ts';
import { FairQueue, type Ticket } from './fair-queue.ts';
import {
  type AdoptionHost,
  adoptExec,
  adoptRun,
  durableKey,
  failAdopted,
  releaseDeletedCommand,
} from './job-adoption.ts';
import type { JobBody, JobEvent } from './job-body.ts';
import type { JobCluster } from './job-cluster.ts';
import type { LiveJob } from './job-lifecycle.ts';
import type { JobLogOptions } from './job-log.ts';
import type { ExecJobRequest, JobManagerOptions } from './job-manager-options.ts';
import type { LogRetention } from './log-retention.ts';
import { jobNotFound } from './new-job.ts';
import { type PlacedRunsHost, placeOn, runPlaced } from './placed-runs.ts';
import { type RemoteJobsHost, readJobLog, stopElsewhere, waitElsewhere } from './remote-jobs.ts';
import {
  claimRunFiles,
  insertRunJob,
  planRunJob,
  type RunJobPlan,
  type RunJobRequest,
  refuseBusyWorkspace,
  runJobBody,
} from './run-job.ts';
import { type TrackingHost, type TrackOptions, trackJob } from './track-job.ts';
import type { UploadStore } from './upload-store.ts';

/**
 * Runs jobs in the background and keeps their state and output in the repository: `run` jobs in
 * a fresh sandbox each (through `runCommand`, the same path as the CLI), `exec` jobs in a
 * long-lived sandbox. Output is readable and followable while it is produced.
 */
export class JobManager {
  readonly #context: MagsContext;
  readonly #repository: StateRepository;
  readonly #slots: FairQueue;
  readonly #logOptions: JobLogOptions;
  readonly #retention: LogRetention | undefined;
  readonly #killGraceMs: number;
  readonly #uploads: UploadStore | undefined;
  readonly #live = new Map<string, LiveJob>();
  readonly #instance: ServerInstance | undefined;
  readonly #execSandboxes: JobManagerOptions['execSandboxes'];
  /** What recovery's adopt and fail need of this manager (job-adoption.ts). */
  readonly #adoption: AdoptionHost;
  /** What runs placed across hosts need of this manager (placed-runs.ts). */
  readonly #placedRuns: PlacedRunsHost;
  /** What following and stopping jobs run elsewhere need of this manager (remote-jobs.ts). */
  readonly #remote: RemoteJobsHost;
  /** What tracking a job from its queue to its end needs of this manager (track-job.ts). */
  readonly #tracking: TrackingHost;
  /** The server is letting go (a detaching shutdown): running jobs stay recorded as running. */
  #detached = false;
  readonly #finishedListeners = new Set<(record: JobRecord) => void>();
  readonly #changeListeners = new Set<(record: JobRecord) => void>();
  /** The other servers on this state (src/cluster/); undefined: this host runs every job. */
  #cluster: JobCluster | undefined;

  constructor(options: JobManagerOptions) {
    this.#context = options.context;
    this.#repository = options.repository;
    // Free slots go round-robin across owners: one owner's backlog never starves another's job.
    this.#slots = new FairQueue({
      limit: options.maxConcurrentJobs ?? 32,
      perOwnerActive: options.maxJobsPerOwner ?? 8,
      perOwnerWaiting: options.maxQueuedJobsPerOwner ?? 64,
    });
    this.#logOptions = options.log ?? {};
    this.#retention = options.retention;
    this.#killGraceMs = options.killGraceMs ?? 2000;
    this.#instance = options.instance;
    this.#uploads = options.uploads;
    this.#execSandboxes = options.execSandboxes;
    this.#cluster = options.cluster;
    this.#adoption = {
      context: this.#context,
      repository: this.#repository,
      killGraceMs: this.#killGraceMs,
      track: (record, body) => {
        // It already runs: no queue, but it counts against its owner's running jobs.
        const ticket = this.#slots.enter(record.owner);
        return this.#track({ ...record, status: 'running' }, ticket, body, { adopted: true });
      },
    };
    const manager = this;
    this.#placedRuns = {
      context: this.#context,
      repository: this.#repository,
      instance: this.#instance,
      get cluster() {
        return manager.#cluster;
      },
      get perOwnerWaiting() {
        return manager.#slots.perOwnerWaiting;
      },
      enqueue: (owner) => this.#slots.enqueue(owner),
      runBody: (plan, runtime) => this.#runBody(plan, runtime, []),
      track: (record, ticket, body) =>
        this.#track(record, ticket, body, { queued: true, adopted: false }),
      failAdopted: (record, reason) => this.failAdopted(record, reason),
    };
    this.#remote = {
      repository: this.#repository,
      live: this.#live,
      get cluster() {
        return manager.#cluster;
      },
      get: (owner, id) => this.get(owner, id),
    };
    this.#tracking = {
      context: this.#context,
      repository: this.#repository,
      logOptions: this.#logOptions,
      retention: this.#retention,
      live: this.#live,
      get cluster() {
        return manager.#cluster;
      },
      server: this.#instance?.server,
      detached: () => this.#detached,
      changed: (record, logBytes) => this.#changed(record, logBytes),
      finished: (record) => {
        for (const listener of this.#finishedListeners) {
          try {
            listener({ ...record });
          } catch {} // a listener's mistake is not the job's
        }
      },
    };
  }

  /**
   * Tells `listener` of each job that finishes in this process, with its final record (what
   * `job.failed` triggers react to). It must not block; returns the unsubscribe.
   */
  onFinished(listener: (record: JobRecord) => void): () => void {
    this.#finishedListeners.add(listener);
    return () => this.#finishedListeners.delete(listener);
  }

  /**
   * Tells `listener` of each job of this process as it is created (or adopted), starts and
   * finishes, with a copy of its record then (the owner in it: a follower of one owner's jobs
   * needs no read per change). It must not block; returns the unsubscribe.
   */
  onChange(listener: (record: JobRecord) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Joins the servers sharing this state (set once at start, before any job is submitted). */
  set cluster(cluster: JobCluster | undefined) {
    this.#cluster = cluster;
  }

  /**
   * A job another process runs changed (its host told the state): the followers of this one's
   * changes hear of it too (`GET /v1/jobs?follow=true` through any server). Nothing when this
   * process runs it (they heard already) or nobody follows.
   */
  changedElsewhere(record: JobRecord): void {
    if (this.#live.has(record.id)) return;
    for (const listener of this.#changeListeners) {
      try {
        listener({ ...record });
      } catch {} // a listener's mistake is not the job's
    }
  }

  /** Whether anyone follows this process's job changes (`onChange`). */
  get followed(): boolean {
    return this.#changeListeners.size > 0;
  }

  #changed(record: JobRecord, logBytes: number): void {
    this.#cluster?.changed(record);
    for (const listener of this.#changeListeners) {
      try {
        listener({ ...record, logBytes });
      } catch {} // a listener's mistake is not the job's
    }
  }

  get retention(): LogRetention | undefined {
    return this.#retention;
  }

  get counts(): { running: number; queued: number; maxConcurrent: number } {
    return {
      running: this.#slots.active,
      queued: this.#slots.waiting,
      maxConcurrent: this.#slots.limit,
    };
  }

  /** What one owner may have running (execs included) and queued; Infinity: no limit. */
  get perOwnerLimits(): { running: number; queued: number } {
    return { running: this.#slots.perOwnerActive, queued: this.#slots.perOwnerWaiting };
  }

  /** One owner's jobs: running (execs included) and queued. */
  countsFor(owner: string): { running: number; queued: number } {
    const { active, waiting } = this.#slots.countsFor(owner);
    return { running: active, queued: waiting };
  }

  /**
   * Holds one of the owner's running-job slots for work that is no job but costs like one (a
   * sandbox started for a workspace's tree copy): refused with a 429 at the owner's limit, like
   * an exec. Returns the release (more calls do nothing).
   */
  holdSlot(owner: string): () => void {
    const ticket = this.#slots.enter(owner);
    return () => ticket.release();
  }

  /** `origin`: what started it besides its owner's request (`cron:NAME:ID`), shown on the job. */
  async submitRun(
    owner: string,
    request: RunJobRequest,
    options: { origin?: string } = {},
  ): Promise<JobRecord> {
    // Everything that can be checked now is, before anything is recorded.
    const plan = planRunJob(this.#context, owner, request, this.#instance);
    if (options.origin !== undefined) plan.record.origin = options.origin;
    const host = await this.#cluster?.place(plan);
    if (host !== undefined) return placeOn(this.#placedRuns, host, plan);
    // A runtime named but missing on this host is refused here, with what it lacks.
    const runtime = await requireRuntime(this.#context, request.runtime);
    refuseBusyWorkspace(
      owner,
      request,
      [...this.#live.values()]
        .filter((live) => !live.abort.signal.aborted)
        .map((live) => live.record),
    );
    const files = request.files ?? [];
    const { record } = plan;
    // Taken before anything is recorded: over the owner's limits is a 429 and leaves no job.
    const ticket = this.#slots.enqueue(owner);
    const claimed = await claimRunFiles(this.#uploads, owner, files, record.id).catch(
      (error: unknown) => {
        ticket.release();
        throw error;
      },
    );
    const body = this.#runBody(plan, runtime, claimed.files);
    // The check above sees this process's jobs; this one, in the insert, every server's.
    const stopping = [...this.#live.values()]
      .filter((live) => live.abort.signal.aborted)
      .map((live) => live.record.id);
    return this.#start(record, ticket, body, {
      queued: true,
      finally: claimed.release,
      insert: () => insertRunJob(this.#repository, record, request, stopping),
    });
  }

  /** Runs a job another server placed on this host, taken from the queue (placed-runs.ts). */
  runPlaced(record: JobRecord): Promise<JobRecord> {
    return runPlaced(this.#placedRuns, record);
  }

  #runBody(
    plan: RunJobPlan,
    runtime: Awaited<ReturnType<typeof requireRuntime>>,
    files: Awaited<ReturnType<typeof claimRunFiles>>['files'],
  ): JobBody {
    const { record } = plan;
    const owner = record.owner;
    return runJobBody(plan, {
      context: this.#context,
      repository: this.#repository,
      killGraceMs: this.#killGraceMs,
      // A restarted server finds the sandbox by its labels and the command by its key.
      labels: this.#labels({ kind: 'run', owner, job: record.id }),
      execKey: durableKey(runtime, record.id),
      files,
      onSandbox: (sandbox) => {
        const live = this.#live.get(record.id);
        if (live) live.sandbox = sandbox;
      },
    });
  }

  /** Runs a command in a long-lived sandbox; `start` returns the command's process. */
  async submitExec(
    owner: string,
    sandbox: string,
    request: ExecJobRequest,
    start: (request: ExecRequest) => SandboxProcess,
  ): Promise<JobRecord> {
    const { record, body } = planExecJob(
      this.#context,
      this.#instance,
      { owner, sandbox, request, killGraceMs: this.#killGraceMs },
      start,
    );
    // No host slot (the sandbox already runs), but it counts against the owner's running jobs.
    const ticket = this.#slots.enter(owner);
    return this.#start(record, ticket, body, { queued: false });
  }

  /**
   * Continues an exec job a gone server process started, in its sandbox (attached again), from
   * where its stored log ends (job-adoption.ts).
   */
  adoptExec(record: JobRecord, sandbox: Sandbox, stored: { timeoutSeconds: number }): JobRecord {
    return adoptExec(this.#adoption, record, sandbox, stored);
  }

  /**
   * Continues a run job a gone server process started, in its sandbox (attached again), then
   * ends it as the run would have (job-adoption.ts).
   */
  adoptRun(record: JobRecord, sandbox: Sandbox, run: StoredRunOptions): JobRecord {
    return adoptRun(this.#adoption, record, sandbox, run);
  }

  /**
   * A job a gone process left that cannot continue: failed with `reason`. `sandbox`: where its
   * command may still be kept, released there (nobody will resume it).
   */
  failAdopted(record: JobRecord, reason: string, sandbox?: Sandbox): Promise<void> {
    return failAdopted(this.#adoption, record, reason, sandbox);
  }

  /**
   * The server process is letting go of its jobs (a detaching shutdown): what they printed so far
   * is stored, and from now on nothing is recorded as their end; their commands run on and the
   * next server process picks them up. Jobs on a runtime whose sandboxes cannot outlive this
   * process (no capability reattach) are stopped first, as a closing shutdown stops them.
   */
  async detach(): Promise<void> {
    const ending = [...this.#live.values()].filter(
      (job) => !this.#context.runtimes[job.record.runtime ?? 'namespace']?.capabilities.reattach,
    );
    for (const job of ending) job.abort.abort('shutdown');
    await Promise.allSettled(ending.map((job) => job.done));
    this.#detached = true;
    await Promise.allSettled([...this.#live.values()].map((job) => job.log.flush()));
  }

  #labels(labels: Record<string, string>): Record<string, string> {
    return this.#instance ? { server: this.#instance.server, ...labels } : labels;
  }

  async get(owner: string, id: string): Promise<JobRecord> {
    const live = this.#live.get(id);
    if (live && live.record.owner === owner)
      return { ...live.record, logBytes: live.log.endOffset };
    const record = await this.#repository.getJob(owner, id);
    if (!record) throw jobNotFound(id);
    return record;
  }

  list(filter: JobFilter): Promise<{ jobs: JobRecord[]; nextCursor: string | null }> {
    return this.#repository.listJobs(filter);
  }

  /** Settles when the job has finished, with its final record. */
  async wait(owner: string, id: string): Promise<JobRecord> {
    const live = this.#live.get(id);
    if (live && live.record.owner === owner) return live.done;
    return waitElsewhere(this.#remote, owner, id);
  }

  /** Stops a queued or running job (SIGTERM, then everything after the grace period). */
  async stop(owner: string, id: string): Promise<JobRecord> {
    const live = this.#live.get(id);
    if (!live || live.record.owner !== owner) return stopElsewhere(this.#remote, owner, id, false);
    live.abort.abort();
    return live.done;
  }

  /**
   * Stops a job this process runs, asked by another server process (whose owner checked it):
   * false when it runs none of that id.
   */
  async stopHere(id: string, kill: boolean): Promise<boolean> {
    const live = this.#live.get(id);
    if (!live) return false;
    if (kill) await this.kill(live.record.owner, id);
    else await this.stop(live.record.owner, id);
    return true;
  }

  /**
   * This host was declared gone by another server, which failed its jobs already: they are
   * stopped here, and nothing more of them is recorded (their records keep that reason).
   */
  async abandon(): Promise<void> {
    // Before anything else (synchronously): a job's end being recorded now is not.
    this.#detached = true;
    const live = [...this.#live.values()];
    for (const job of live) {
      job.abort.abort('shutdown');
      await job.sandbox?.stop().catch(() => {});
    }
    await Promise.allSettled(live.map((job) => job.done));
  }

  /**
   * Stops a job at once: recorded as stopped on request like `stop`, but a run's sandbox goes now,
   * without SIGTERM's grace period. For a client that cannot wait, whose process exits next (a
   * second Ctrl-C of a run embedded in the CLI, whose sandbox would outlive it).
   */
  async kill(owner: string, id: string): Promise<JobRecord> {
    const live = this.#live.get(id);
    if (!live || live.record.owner !== owner) return stopElsewhere(this.#remote, owner, id, true);
    live.abort.abort();
    await live.sandbox?.stop();
    return live.done;
  }

  /** Deletes a finished job and its output; a queued or running one is a conflict. */
  async delete(owner: string, id: string): Promise<void> {
    const live = this.#live.get(id);
    if (live?.record.owner === owner) {
      if (!live.finishing) throw jobNotFinished(id, live.record.status);
      // Its command has ended and it is only storing its output and final state (its status may
      // already read final): that is a moment's work, waited for rather than refused.
      await live.done.catch(() => {});
    }
    const record = await this.get(owner, id); // another owner's job is a 404
    if (!(await this.#repository.deleteJob(owner, id))) throw jobNotFinished(id, record.status);
    await releaseDeletedCommand(this.#context, this.#execSandboxes, record);
  }

  /** The job's output from `offset` on, followed to its end with `follow` (remote-jobs.ts). */
  readLog(
    owner: string,
    id: string,
    options: { offset: number; follow: boolean; signal?: AbortSignal },
  ): AsyncGenerator<LogChunk> {
    return readJobLog(this.#remote, owner, id, options);
  }

  /**
   * Tells `watcher` of the job's events (`JobEvent`) until the returned function is called: at
   * once that its sandbox started when it already has (a finished job's too), then as they come.
   */
  async watch(owner: string, id: string, watcher: (event: JobEvent) => void): Promise<() => void> {
    const live = this.#live.get(id);
    if (live && live.record.owner === owner) {
      if (live.record.sandboxId !== null) {
        watcher({ type: 'started', sandboxId: live.record.sandboxId });
      }
      live.watchers.add(watcher);
      return () => live.watchers.delete(watcher);
    }
    const record = await this.get(owner, id); // ownership, and 404
    if (record.sandboxId !== null) watcher({ type: 'started', sandboxId: record.sandboxId });
    return () => {};
  }

  /** Stops every job (a server shutting down) and records them as stopped. */
  async shutdown(): Promise<void> {
    const live = [...this.#live.values()];
    for (const job of live) job.abort.abort('shutdown');
    await Promise.allSettled(live.map((job) => job.done));
  }

  async #start(
    record: JobRecord,
    ticket: Ticket,
    body: JobBody,
    options: {
      queued: boolean;
      finally?: () => Promise<unknown> | undefined;
      /** How it is recorded (a run: one writer per workspace); default insertJob. */
      insert?: () => Promise<void>;
    } = { queued: true },
  ): Promise<JobRecord> {
    try {
      await (options.insert?.() ?? this.#repository.insertJob(record));
    } catch (error) {
      ticket.release();
      await options.finally?.();
      throw error;
    }
    return this.#track(record, ticket, body, { ...options, adopted: false });
  }

  /** Tracks a job from its queue to its recorded end (track-job.ts). */
  #track(record: JobRecord, ticket: Ticket, body: JobBody, options: TrackOptions): JobRecord {
    return trackJob(this.#tracking, record, ticket, body, options);
  }
}

function jobNotFinished(id: string, status: string): ConflictError {
  return new ConflictError(`Job ${id} is ${status}: only a finished job can be deleted.`, {
    code: 'job_not_finished',
    hint: `Stop it first: mags stop ${id}`,
  });
}

const _now = () => new Date().toISOString();
