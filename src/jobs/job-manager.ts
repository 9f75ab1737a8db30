import { Writable } from 'node:stream';
import type { RunOptions, StoredRunOptions } from '../api/run-options.ts';
import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { ConflictError, InvalidInputError, MagsError } from '../errors/mags-error.ts';
import { sandboxOperation } from '../runtimes/require-capability.ts';
import type { ExecRequest, Sandbox, SandboxProcess } from '../runtimes/runtime.ts';
import { sandboxEnvironment } from '../sandboxes/sandbox-spec.ts';
import type { JobFilter, JobRecord, LogChunk, StateRepository } from '../state/state-repository.ts';
import { ownerWorkspaceName } from '../workspaces/owner-workspace.ts';
import type { SyncProgress } from '../workspaces/sync/push-workspace.ts';
import { commandDeadline } from './command-deadline.ts';
import { continueRun } from './continue-run.ts';
import { FairQueue, type Ticket } from './fair-queue.ts';
import { JobLog, type JobLogOptions } from './job-log.ts';
import { failedOutcome, type Outcome, outcome, stopReason } from './job-outcome.ts';
import type { LogRetention } from './log-retention.ts';
import { jobNotFound, newJob } from './new-job.ts';
import { ownerFacingError, serverLocations } from './owner-facing-error.ts';
import { drained, runCommand } from './run-command.ts';
import type { UploadStore } from './upload-store.ts';

/**
 * What a running job tells those following it besides its output: its sandbox is up (its id is
 * on the job from then on), and how the sync of a persistent workspace is getting on.
 */
export type JobEvent =
  | { type: 'started'; sandboxId: string }
  | { type: 'progress'; progress: SyncProgress };

/** A run as the API takes it (`RunOptions`, the schema's type), with the command as an argv. */
export type RunJobRequest = RunOptions & { argv: string[] };

export interface ExecJobRequest {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export interface JobManagerOptions {
  context: MagsContext;
  repository: StateRepository;
  /** Runs beyond this wait as `queued` (exec jobs in running sandboxes do not count). */
  maxConcurrentJobs?: number;
  /** Jobs one owner may have running at once, execs included (default 8); more wait. */
  maxJobsPerOwner?: number;
  /** Runs one owner may have waiting (default 64); one more is refused with a 429. */
  maxQueuedJobsPerOwner?: number;
  log?: JobLogOptions;
  /** Bounds stored output by owner and in total (none when absent). */
  retention?: LogRetention;
  killGraceMs?: number;
  /** The server process running the jobs, recorded on each (recovery after a restart). */
  instance?: ServerInstance;
  /** Where the files runs take (`files`) are staged; without it, runs take none. */
  uploads?: UploadStore;
}

/** What a job does: runs its command, following `signal` (a stop), telling of its events. */
type JobBody = (
  log: JobLog,
  signal: AbortSignal,
  announce: (event: JobEvent) => void,
) => Promise<Outcome>;

interface LiveJob {
  record: JobRecord;
  log: JobLog;
  abort: AbortController;
  done: Promise<JobRecord>;
  /** Its command has ended; its output and final state are being stored. */
  finishing: boolean;
  watchers: Set<(event: JobEvent) => void>;
  /** A run job's sandbox, once it is up (`kill` ends it at once). */
  sandbox?: Sandbox;
}

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
  /** The server is letting go (a detaching shutdown): running jobs stay recorded as running. */
  #detached = false;

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

  async submitRun(owner: string, request: RunJobRequest): Promise<JobRecord> {
    // Everything that can be checked now is, before anything is recorded.
    if (request.workspace !== undefined && request.base !== undefined) {
      throw new InvalidInputError(
        'Give either workspace (read-write) or base (read-only), not both.',
      );
    }
    if (request.version !== undefined && request.workspace === undefined) {
      throw new InvalidInputError('version needs the workspace it is a version of.');
    }
    const workspace = request.workspace ?? request.base;
    const internal = {
      workspace: request.workspace && ownerWorkspaceName(owner, request.workspace),
      base: request.base && ownerWorkspaceName(owner, request.base),
    };
    if (request.workspace && !request.ephemeral && request.version === undefined) {
      for (const live of this.#live.values()) {
        if (
          live.record.owner === owner &&
          live.record.kind === 'run' &&
          live.record.workspace === request.workspace &&
          !live.abort.signal.aborted
        ) {
          throw new ConflictError(
            `Workspace ${JSON.stringify(request.workspace)} is in use by job ${live.record.id}.`,
            {
              workspace: request.workspace,
              code: 'workspace_busy',
              hint: 'Wait for it (mags logs -f ID) or stop it (mags stop ID); readers can use --base.',
            },
          );
        }
      }
    }
    const files = request.files ?? [];
    const uploadIds = files.map((file) => file.upload);
    if (files.length > 0 && !this.#uploads) {
      throw new InvalidInputError('This server takes no uploads.');
    }
    // An unknown upload is refused now, before a job exists.
    const sources = this.#uploads ? await this.#uploads.resolve(owner, uploadIds) : [];
    const defaults = this.#context.defaults;
    const timeoutMs =
      request.timeoutSeconds === undefined ? defaults.timeoutMs : request.timeoutSeconds * 1000;
    // A limit given as undefined keeps the default.
    const given = Object.entries(request.limits ?? {}).filter(([, value]) => value !== undefined);
    const limits = { ...defaults.limits, ...Object.fromEntries(given) };
    // Stored on the job: what another server process needs to finish it after a restart.
    const { env: _env, files: _files, argv: _argv, ...asked } = request;
    const runOptions: StoredRunOptions = {
      ...asked,
      image: request.image ?? defaults.image,
      network: request.network ?? false,
      timeoutSeconds: timeoutMs / 1000,
      limits,
    };
    const record: JobRecord = {
      ...newJob(owner, 'run', request.argv, workspace ?? null, null),
      ...this.#instance,
      runOptions,
    };
    // Taken before anything is recorded: over the owner's limits is a 429 and leaves no job.
    const ticket = this.#slots.enqueue(owner);
    const removeUploads = () => this.#uploads?.remove(owner, uploadIds);
    return this.#start(
      record,
      ticket,
      async (log, signal, announce) => {
        const stderr = logWriter(log, 'stderr');
        const result = await runCommand(this.#context, {
          // A restarted server finds the sandbox by its labels and the command by its key.
          labels: this.#labels({ kind: 'run', owner, job: record.id }),
          ...this.#durable(record.id, (key) => ({ execKey: key })),
          argv: request.argv,
          workspace: internal.workspace,
          base: internal.base,
          ephemeral: request.ephemeral,
          persist: request.persist,
          version: request.version,
          env: request.env,
          files: files.map((file, index) => ({
            source: sources[index] as string,
            name: file.name,
            mode: file.mode ?? 0o644,
          })),
          timeoutMs,
          killGraceMs: this.#killGraceMs,
          limits,
          network: runOptions.network,
          image: runOptions.image,
          stdout: logWriter(log, 'stdout'),
          stderr,
          signal,
          onStarted: (sandbox) => {
            const live = this.#live.get(record.id);
            if (live) live.sandbox = sandbox;
            announce({ type: 'started', sandboxId: sandbox.id });
            for (const warning of sandbox.warnings) stderr.write(`mags: warning: ${warning}\n`);
          },
          onSyncProgress: (progress) => announce({ type: 'progress', progress }),
        });
        if (workspace) await this.#repository.touchWorkspace(owner, workspace, now());
        return outcome({
          ...result,
          timeoutMs,
          memoryMiB: limits.memoryMiB,
          workspace: request.workspace,
        });
      },
      { queued: true, finally: removeUploads },
    );
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
    const record: JobRecord = {
      ...newJob(owner, 'exec', request.argv, null, sandbox),
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
        const command = start({
          argv: request.argv,
          env,
          cwd: request.cwd ?? '/workspace',
          ...this.#durable(record.id, (key) => ({ key })),
        });
        return this.#followExec(command, log, signal, { timeoutMs, remainingMs: timeoutMs });
      },
      { queued: false },
    );
  }

  /**
   * Continues an exec job a gone server process started, in its sandbox (attached again): the
   * command's output is replayed from where the stored log ends. Its timeout counts from the
   * job's start (`stored`: its options as `StoredExecOptionsSchema` reads them).
   */
  adoptExec(record: JobRecord, sandbox: Sandbox, stored: { timeoutSeconds: number }): JobRecord {
    const timeoutMs = stored.timeoutSeconds * 1000;
    const endsAt = Date.parse(record.startedAt ?? record.createdAt) + timeoutMs;
    return this.#adopt(record, async (log, signal) => {
      const offsets = await this.#repository.logStreamBytes(record.id);
      const resumeExec = sandboxOperation(this.#context.runtime, sandbox, 'resumeExec');
      const command = resumeExec(record.id, {
        stdoutOffset: offsets.stdout,
        stderrOffset: offsets.stderr,
      });
      const lost = await command.resumed.then(
        (point) => point.stdoutOffset - offsets.stdout + (point.stderrOffset - offsets.stderr),
        (error: unknown) => error,
      );
      if (typeof lost !== 'number') return lostOutcome(log, lost);
      if (lost > 0) log.append('stderr', Buffer.from(lostNotice(lost)));
      return this.#followExec(command, log, signal, {
        timeoutMs,
        remainingMs: endsAt - Date.now(),
      });
    });
  }

  /**
   * Continues a run job a gone server process started, in its sandbox (attached again): the
   * command is picked up where the stored log ends, then the sandbox is torn down or parked and
   * the workspace synced, as the run would have done. `run`: the job's stored options
   * (`StoredRunOptionsSchema`).
   */
  adoptRun(record: JobRecord, sandbox: Sandbox, run: StoredRunOptions): JobRecord {
    this.#context.scheduler?.adopt(sandbox);
    return this.#adopt(record, async (log, signal) => {
      const offsets = await this.#repository.logStreamBytes(record.id);
      try {
        const result = await continueRun(this.#context, {
          sandbox,
          key: record.id,
          offsets: { stdoutOffset: offsets.stdout, stderrOffset: offsets.stderr },
          run,
          owner: record.owner,
          startedAt: record.startedAt ?? record.createdAt,
          killGraceMs: this.#killGraceMs,
          stdout: logWriter(log, 'stdout'),
          stderr: logWriter(log, 'stderr'),
          signal,
        });
        if (record.workspace)
          await this.#repository.touchWorkspace(record.owner, record.workspace, now());
        return outcome({
          ...result,
          timeoutMs: run.timeoutSeconds * 1000,
          memoryMiB: run.limits.memoryMiB,
          workspace: run.workspace,
        });
      } catch (error) {
        if (error instanceof MagsError && error.code === 'job_lost') return lostOutcome(log, error);
        throw error;
      }
    });
  }

  /**
   * A job a gone process left that cannot continue: failed (end reason `failed`, `reason` as its
   * message), with why in its log too.
   */
  async failAdopted(record: JobRecord, reason: string): Promise<void> {
    const log = new JobLog(this.#repository, record.id, { startOffset: record.logBytes });
    log.append('stderr', Buffer.from(`mags: ${reason}\n`));
    await log.finish();
    await this.#repository.updateJob(record.id, {
      ...failedOutcome(reason),
      finishedAt: now(),
      logBytes: log.endOffset,
    });
  }

  /**
   * The server process is letting go of its jobs (a detaching shutdown): what they printed so far
   * is stored, and from now on nothing is recorded as their end; their commands run on and the
   * next server process picks them up.
   */
  async detach(): Promise<void> {
    this.#detached = true;
    await Promise.allSettled([...this.#live.values()].map((job) => job.log.flush()));
  }

  /**
   * A durable exec's key (the job's id), on a runtime whose sandboxes outlive this process
   * (capability reattach); elsewhere nothing (the command ends with its server anyway).
   */
  #durable<Field>(id: string, field: (key: string) => Field): Field | undefined {
    return this.#context.runtime.capabilities.reattach ? field(id) : undefined;
  }

  #labels(labels: Record<string, string>): Record<string, string> {
    return this.#instance ? { server: this.#instance.server, ...labels } : labels;
  }

  #adopt(record: JobRecord, body: JobBody): JobRecord {
    // It already runs: no queue, but it counts against its owner's running jobs.
    const ticket = this.#slots.enter(record.owner);
    return this.#track({ ...record, status: 'running' }, ticket, body, { adopted: true });
  }

  /**
   * Follows an exec job's command to its end. `timeoutMs` is its limit (named in the message);
   * `remainingMs` what is left of it (less for a command picked up again after a restart).
   */
  async #followExec(
    command: SandboxProcess,
    log: JobLog,
    signal: AbortSignal,
    { timeoutMs, remainingMs }: { timeoutMs: number; remainingMs: number },
  ): Promise<Outcome> {
    command.stdout.on('data', (chunk: Buffer) => log.append('stdout', chunk));
    command.stderr.on('data', (chunk: Buffer) => log.append('stderr', chunk));
    const deadline = commandDeadline({
      timeoutMs: Math.max(0, remainingMs),
      killGraceMs: this.#killGraceMs,
      signal,
      terminate: () => command.signal('SIGTERM'),
      kill: () => command.signal('SIGKILL'),
    });
    try {
      const result = await command.exited;
      await Promise.all([drained(command.stdout), drained(command.stderr)]);
      return outcome({
        ...result,
        timedOut: deadline.timedOut,
        cancelled: deadline.stopped,
        oomKilled: false,
        timeoutMs,
      });
    } catch (error) {
      if (error instanceof MagsError && error.code === 'guest_exec_failed') {
        log.append('stderr', Buffer.from(`mags: ${error.message}\n`));
        return failedOutcome(error.message, 127);
      }
      throw error;
    } finally {
      deadline.clear();
    }
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
    return this.get(owner, id);
  }

  /** Stops a queued or running job (SIGTERM, then everything after the grace period). */
  async stop(owner: string, id: string): Promise<JobRecord> {
    const live = this.#live.get(id);
    if (!live || live.record.owner !== owner) return this.get(owner, id); // already finished
    live.abort.abort();
    return live.done;
  }

  /**
   * Stops a job at once: recorded as stopped on request like `stop`, but a run's sandbox goes now,
   * without SIGTERM's grace period. For a client that cannot wait, whose process exits next (a
   * second Ctrl-C of a run embedded in the CLI, whose sandbox would outlive it).
   */
  async kill(owner: string, id: string): Promise<JobRecord> {
    const live = this.#live.get(id);
    if (!live || live.record.owner !== owner) return this.get(owner, id);
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
    await this.get(owner, id); // ownership, and 404
    let offset = options.offset;
    while (!options.signal?.aborted) {
      const live = this.#live.get(id);
      const log = live?.log ?? new JobLog(this.#repository, id);
      const chunks = await log.read(offset, 1024 * 1024);
      for (const chunk of chunks) {
        yield chunk;
        offset = chunk.offset + chunk.data.length;
      }
      if (chunks.length > 0) continue;
      if (!live || !options.follow || (live.log.finished && offset >= live.log.endOffset)) return;
      await live.log.waitBeyond(offset, options.signal);
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
    options: { queued: boolean; finally?: () => Promise<unknown> | undefined } = { queued: true },
  ): Promise<JobRecord> {
    try {
      await this.#repository.insertJob(record);
    } catch (error) {
      ticket.release();
      await options.finally?.();
      throw error;
    }
    return this.#track(record, ticket, body, { ...options, adopted: false });
  }

  #track(
    record: JobRecord,
    ticket: Ticket,
    body: JobBody,
    options: { queued?: boolean; adopted: boolean; finally?: () => Promise<unknown> | undefined },
  ): JobRecord {
    const quota = this.#retention?.forJob(record.owner);
    const log = new JobLog(this.#repository, record.id, {
      ...this.#logOptions,
      ...quota,
      startOffset: record.logBytes,
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
    };
    let updating: Promise<void> = Promise.resolve();
    live.done = (async () => {
      let result: Outcome;
      try {
        // A job stopped while queued leaves the queue at once instead of waiting for a slot.
        await grantedOrAborted(ticket, abort.signal);
        if (abort.signal.aborted) {
          const reason = stopReason(abort);
          result = {
            status: 'stopped',
            exitCode: null,
            signal: null,
            endReason: 'stopped',
            reason,
            message: reason,
          };
        } else {
          // An adopted job is running already, since its first server started it.
          if (!options.adopted) await update({ status: 'running', startedAt: now() });
          result = await body(log, abort.signal, (event) => {
            if (event.type === 'started') {
              // On the job as soon as it is known; the job's end is recorded after this write.
              updating = update({ sandboxId: event.sandboxId });
            }
            for (const watcher of live.watchers) watcher(event);
          });
          if (result.status === 'stopped') {
            const reason = stopReason(abort);
            result.message = result.message?.replace(result.reason ?? '', reason) ?? reason;
            result.reason = reason;
          }
        }
      } catch (error) {
        if (this.#detached) return { ...record }; // its command runs on; the next server finishes it
        // The job's log and reason are read by its owner: in their words, without host details.
        const facing = ownerFacingError(error, record.owner, serverLocations(this.#context));
        if (facing.withheld) console.error(`[job ${record.id}] owner ${record.owner}:`, error);
        const hint = facing.hint ? `\n  hint: ${facing.hint}` : '';
        log.append('stderr', Buffer.from(`mags: ${facing.message}${hint}\n`));
        // Its output already says so (above): clients that print the message skip a failure's.
        result = failedOutcome(facing.message);
      } finally {
        ticket.release();
        await options.finally?.()?.catch(() => {});
      }
      // Let go of (a detaching shutdown): recorded as running, for the next server process.
      if (this.#detached) return { ...record };
      live.finishing = true;
      try {
        await log.finish();
      } finally {
        quota?.close(); // its output now counts as finished output, which retention may remove
        await updating.catch(() => {});
        await update({ ...result, finishedAt: now(), logBytes: log.endOffset });
        this.#live.delete(record.id);
      }
      return { ...record };
    })();
    // The returned copy is the state at submission: queued (or running, for exec).
    if (options.queued === false) Object.assign(record, { status: 'running', startedAt: now() });
    return { ...record };
  }
}

const lostNotice = (bytes: number) =>
  `mags: ${bytes} bytes of output were lost while the server restarted (read but not yet stored when it stopped)\n`;

/** The command's end went to the server process that died (or it cannot be picked up again). */
function lostOutcome(log: JobLog, error: unknown): Outcome {
  const reason =
    (error as { errno?: number }).errno === 2
      ? 'the server stopped just as the command ended, before it recorded how: its exit status is lost'
      : error instanceof MagsError && error.code === 'job_lost'
        ? error.message
        : `the command could not be picked up again after the server restarted: ${(error as Error).message}`;
  log.append('stderr', Buffer.from(`mags: ${reason}\n`));
  return failedOutcome(reason);
}

function jobNotFinished(id: string, status: string): ConflictError {
  return new ConflictError(`Job ${id} is ${status}: only a finished job can be deleted.`, {
    code: 'job_not_finished',
    hint: `Stop it first: mags stop ${id}`,
  });
}

function grantedOrAborted(ticket: Ticket, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([ticket.granted, aborted]).finally(() =>
    signal.removeEventListener('abort', onAbort),
  );
}

function logWriter(log: JobLog, stream: LogChunk['stream']): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      log.append(stream, chunk);
      callback();
    },
  });
}

const now = () => new Date().toISOString();
