import type { StoredRunOptions } from '../api/run-options.ts';
import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { requireRuntime, selectRuntime } from '../context/select-runtime.ts';
import { ConflictError } from '../errors/mags-error.ts';
import type { ExecRequest, Sandbox, SandboxProcess } from '../runtimes/runtime.ts';
import { sandboxEnvironment } from '../sandboxes/sandbox-spec.ts';
import type { JobFilter, JobRecord, LogChunk, StateRepository } from '../state/state-repository.ts';
import { FairQueue, type Ticket } from './fair-queue.ts';
import { followExec } from './follow-exec.ts';
import {
  type AdoptionHost,
  adoptExec,
  adoptRun,
  durableKey,
  failAdopted,
  releaseDeletedCommand,
} from './job-adoption.ts';
import type { JobBody, JobEvent } from './job-body.ts';
import {
  followUntilFinished,
  isFinished,
  type JobCluster,
  placedRecord,
  planPlacedRun,
} from './job-cluster.ts';
import { type LiveJob, runJob } from './job-lifecycle.ts';
import { JobLog, type JobLogOptions } from './job-log.ts';
import type { ExecJobRequest, JobManagerOptions } from './job-manager-options.ts';
import type { LogRetention } from './log-retention.ts';
import { jobNotFound, newJob } from './new-job.ts';
import { refuseFullPlacedQueue } from './placed-queue-limit.ts';
import { type JobEndRecorded, recordJobEnd, retryWhileStateRefuses } from './record-job-end.ts';
import {
  claimRunFiles,
  insertRunJob,
  planRunJob,
  type RunJobPlan,
  type RunJobRequest,
  refuseBusyWorkspace,
  runJobBody,
} from './run-job.ts';
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
    if (host !== undefined) return this.#placeOn(host, plan);
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

  /**
   * Runs a job another server placed on this host and this process took from the queue
   * (`claimQueuedJobs`): exactly as a run submitted here, from its stored options. One it cannot
   * start (its runtime missing here, its owner's queue full) is failed with why.
   */
  async runPlaced(record: JobRecord): Promise<JobRecord> {
    try {
      const plan = planPlacedRun(this.#context, record, this.#instance);
      const runtime = await requireRuntime(this.#context, plan.runOptions.runtime);
      const ticket = this.#slots.enqueue(record.owner);
      return this.#track(plan.record, ticket, this.#runBody(plan, runtime, []), {
        queued: true,
        adopted: false,
      });
    } catch (error) {
      const reason = `host ${this.#instance?.host} could not start it: ${(error as Error).message}`;
      await this.failAdopted(record, reason);
      this.#cluster?.changed(record);
      return { ...record, status: 'failed', reason };
    }
  }

  /** Records a run placed on another host, queued for it, and tells that host. */
  async #placeOn(host: string, plan: RunJobPlan): Promise<JobRecord> {
    await refuseFullPlacedQueue(
      this.#repository,
      plan.record.owner,
      host,
      this.#slots.perOwnerWaiting,
    );
    const record = placedRecord(plan, host);
    await insertRunJob(this.#repository, record, plan.request);
    await this.#cluster?.placed(record);
    return { ...record, runOptions: plan.runOptions };
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
    const env = sandboxEnvironment(request.env ?? {});
    const timeoutMs = request.timeoutMs ?? this.#context.defaults.timeoutMs;
    const runtime = selectRuntime(this.#context, request.runtime);
    const record: JobRecord = {
      ...newJob(owner, 'exec', request.argv, null, sandbox, runtime.name),
      ...this.#instance,
      // What a server that continues it after a restart needs (StoredExecOptionsSchema).
      runOptions: { timeoutSeconds: timeoutMs / 1000 },
    };
    // No host slot (the sandbox already runs), but it counts against the owner's running jobs.
    const ticket = this.#slots.enter(owner);
    return this.#start(
      record,
      ticket,
      (log, signal) => {
        // Durable (keyed by the job id): a restarted server picks the command up again.
        const key = durableKey(runtime, record.id);
        const command = start({
          argv: request.argv,
          env,
          cwd: request.cwd ?? '/workspace',
          ...(key ? { key } : {}),
        });
        return followExec(command, log, signal, {
          timeoutMs,
          remainingMs: timeoutMs,
          killGraceMs: this.#killGraceMs,
        });
      },
      { queued: false },
    );
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
    return this.#waitElsewhere(owner, id);
  }

  /** A job another process runs (or none): its record once finished, followed through the state. */
  #waitElsewhere(owner: string, id: string, onWait?: () => Promise<void>): Promise<JobRecord> {
    return followUntilFinished(this.#cluster, id, () => this.get(owner, id), onWait);
  }

  /** Stops a queued or running job (SIGTERM, then everything after the grace period). */
  async stop(owner: string, id: string): Promise<JobRecord> {
    const live = this.#live.get(id);
    if (!live || live.record.owner !== owner) return this.#stopElsewhere(owner, id, false);
    live.abort.abort();
    return live.done;
  }

  /**
   * A job this process does not run: finished already, or run by another host, which is asked
   * (again at each slow poll, in case it took the job only after the first ask) to stop it.
   */
  #stopElsewhere(owner: string, id: string, kill: boolean): Promise<JobRecord> {
    return this.#waitElsewhere(owner, id, async () => this.#cluster?.requestStop(id, kill));
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
    if (!live || live.record.owner !== owner) return this.#stopElsewhere(owner, id, true);
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

  /**
   * The job's output from `offset` on. With `follow`, it keeps going until the job ends (or
   * `signal` aborts: the client went away); without, it ends at what exists now.
   */
  async *readLog(
    owner: string,
    id: string,
    options: { offset: number; follow: boolean; signal?: AbortSignal },
  ): AsyncGenerator<LogChunk> {
    const first = await this.get(owner, id); // ownership, and 404
    // A job another host runs is followed through the state: its stored output, woken by that
    // host's notifications (or the slow poll), until its record says it finished.
    const elsewhere =
      options.follow && this.#cluster && !isFinished(first) && !this.#live.has(id)
        ? await this.#cluster.follow(id)
        : undefined;
    let offset = options.offset;
    let ended = false;
    try {
      while (!options.signal?.aborted) {
        const live = this.#live.get(id);
        const log = live?.log ?? new JobLog(this.#repository, id);
        const chunks = await log.read(offset, 1024 * 1024);
        for (const chunk of chunks) {
          yield chunk;
          offset = chunk.offset + chunk.data.length;
        }
        if (chunks.length > 0) continue;
        if (live && options.follow && !(live.log.finished && offset >= live.log.endOffset)) {
          await live.log.waitBeyond(offset, options.signal);
          continue;
        }
        // Its output is stored before its end is: one more read after the end was seen.
        if (!elsewhere || ended || live) return;
        if (isFinished(await this.get(owner, id))) ended = true;
        else await elsewhere.wait(options.signal);
      }
    } finally {
      elsewhere?.close();
    }
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

  /**
   * A job's end, its record's last write (record-job-end.ts): tried again while the state refuses;
   * not written over what another process recorded meanwhile (a sweep that failed it), which is
   * then what the job's record here shows. Throws when the state refused for the host timeout,
   * after telling the cluster (this host then stops heartbeating, see `cannotRecord`).
   */
  async #recordEnd(record: JobRecord, log: JobLog, end: Partial<JobRecord>): Promise<void> {
    const say = (line: string) => process.stderr.write(`mags server: ${line}\n`);
    const untilMs = performance.now() + (this.#cluster?.hostTimeoutMs ?? 15_000);
    let recorded: JobEndRecorded;
    try {
      // Its output first (a batch the state refused stays for the next flush): then the end.
      await retryWhileStateRefuses(() => log.finish(), {
        untilMs,
        what: `the output of job ${record.id}`,
        log: say,
      });
      end.logBytes = log.endOffset;
      // Ended here at once: a follower the log's end woke reads it (before the write lands).
      Object.assign(record, end);
      recorded = await recordJobEnd({
        repository: this.#repository,
        id: record.id,
        server: this.#instance?.server,
        end,
        untilMs,
        log: say,
      });
    } catch (error) {
      say(`cannot record the end of job ${record.id}: ${(error as Error).message}`);
      this.#cluster?.cannotRecord(record.id, error);
      throw error;
    }
    if (recorded === 'written') {
      this.#changed(record, end.logBytes ?? record.logBytes);
      return;
    }
    say(
      `job ${record.id} ended here (${end.status}) but its record is no longer this process's to end (another server recorded it, e.g. failed it while this host was silent): its end here is dropped`,
    );
    const stored = await this.#repository.getJob(record.owner, record.id).catch(() => undefined);
    Object.assign(record, stored ?? end);
  }

  #track(
    record: JobRecord,
    ticket: Ticket,
    body: JobBody,
    options: { queued?: boolean; adopted: boolean; finally?: () => Promise<unknown> | undefined },
  ): JobRecord {
    const quota = this.#retention?.forJob(record.owner);
    const log: JobLog = new JobLog(this.#repository, record.id, {
      ...this.#logOptions,
      ...quota,
      startOffset: record.logBytes,
      // Followers on other servers read the stored output when told it grew.
      onStored: (bytes) => {
        quota?.onStored?.(bytes);
        this.#cluster?.output(record.id, log.endOffset);
      },
    });
    const abort = new AbortController();
    const live: LiveJob = {
      record,
      log,
      abort,
      done: Promise.resolve(record),
      finishing: false,
      watchers: new Set(),
    };
    this.#live.set(record.id, live);
    const update = async (patch: Partial<JobRecord>) => {
      Object.assign(record, patch);
      await this.#repository.updateJob(record.id, patch);
      if (patch.status !== undefined) this.#changed(record, log.endOffset);
    };
    let updating: Promise<void> = Promise.resolve();
    live.done = (async () => {
      const result = await runJob({
        live,
        ticket,
        body,
        context: this.#context,
        // An adopted job is running already, since its first server started it.
        ...(options.adopted
          ? {}
          : {
              markRunning: async () => {
                // Not over the record of a host found gone while this one waited (see below).
                await this.#cluster?.confirmHost();
                if (!this.#detached) await update({ status: 'running', startedAt: now() });
              },
            }),
        announce: (event) => {
          if (event.type === 'started') {
            // On the job as soon as it is known; the job's end is recorded after this write.
            // A state that refuses it now (an outage) is no reason to fail the job: the end's
            // write carries it again (and is tried until it lands).
            updating = update({ sandboxId: event.sandboxId }).catch(() => {});
          }
          for (const watcher of live.watchers) watcher(event);
        },
        detached: () => this.#detached,
        finally: options.finally,
      });
      // Let go of (a detaching shutdown): recorded as running, for the next server process.
      // A host that was silent (frozen, cut off) checks it was not declared gone meanwhile.
      if (result !== undefined) await this.#cluster?.confirmHost();
      if (result === undefined || this.#detached) return { ...record };
      live.finishing = true;
      try {
        await updating;
        await this.#recordEnd(record, log, {
          sandboxId: record.sandboxId,
          ...result,
          finishedAt: now(),
        });
      } finally {
        quota?.close(); // its output now counts as finished output, which retention may remove
      }
      this.#live.delete(record.id);
      for (const listener of this.#finishedListeners) {
        try {
          listener({ ...record });
        } catch {} // a listener's mistake is not the job's
      }
      return { ...record };
    })();
    // The returned copy is the state at submission: queued (or running, for exec).
    if (options.queued === false) Object.assign(record, { status: 'running', startedAt: now() });
    this.#changed(record, log.endOffset);
    return { ...record };
  }
}

function jobNotFinished(id: string, status: string): ConflictError {
  return new ConflictError(`Job ${id} is ${status}: only a finished job can be deleted.`, {
    code: 'job_not_finished',
    hint: `Stop it first: mags stop ${id}`,
  });
}

const now = () => new Date().toISOString();
