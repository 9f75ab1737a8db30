import { Writable } from 'node:stream';
import type { ServerInstance } from '../config/server-instance.ts';
import type { MagsContext } from '../context/mags-context.ts';
import { ConflictError, InvalidInputError, MagsError } from '../errors/mags-error.ts';
import { sandboxOperation } from '../runtimes/require-capability.ts';
import type { ExecRequest, ResourceLimits, Sandbox, SandboxProcess } from '../runtimes/runtime.ts';
import { sandboxEnvironment } from '../sandboxes/sandbox-spec.ts';
import type { JobFilter, JobRecord, LogChunk, StateRepository } from '../state/state-repository.ts';
import { ownerWorkspaceName } from '../workspaces/owner-workspace.ts';
import { continueRun, type StoredRunOptions } from './continue-run.ts';
import { FairQueue, type Ticket } from './fair-queue.ts';
import { JobLog, type JobLogOptions } from './job-log.ts';
import { type Outcome, outcome, stopReason } from './job-outcome.ts';
import type { LogRetention } from './log-retention.ts';
import { jobNotFound, newJob } from './new-job.ts';
import { ownerFacingError, serverLocations } from './owner-facing-error.ts';
import { drained, runCommand } from './run-command.ts';

export interface RunJobRequest {
  argv: string[];
  workspace?: string;
  base?: string;
  ephemeral?: boolean;
  persist?: boolean;
  version?: number;
  env?: Record<string, string>;
  timeoutMs?: number;
  limits?: Partial<ResourceLimits>;
  network?: boolean;
  image?: string;
}

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
}

interface LiveJob {
  record: JobRecord;
  log: JobLog;
  abort: AbortController;
  done: Promise<JobRecord>;
  /** Its command has ended; its output and final state are being stored. */
  finishing: boolean;
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
    const defaults = this.#context.defaults;
    const writes =
      request.workspace && !request.ephemeral && request.version === undefined
        ? internal.workspace
        : undefined;
    const runOptions: StoredRunOptions = {
      ...(writes ? { writes } : {}),
      ...(request.persist ? { persist: true } : {}),
      image: request.image ?? defaults.image,
      network: request.network ?? false,
      timeoutMs: request.timeoutMs ?? defaults.timeoutMs,
    };
    const record: JobRecord = {
      ...newJob(owner, 'run', request.argv, workspace ?? null, null),
      ...this.#instance,
      runOptions: { ...runOptions },
    };
    // Taken before anything is recorded: over the owner's limits is a 429 and leaves no job.
    const ticket = this.#slots.enqueue(owner);
    return this.#start(record, ticket, async (log, signal) => {
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
        timeoutMs: request.timeoutMs ?? defaults.timeoutMs,
        killGraceMs: this.#killGraceMs,
        limits: { ...defaults.limits, ...request.limits },
        network: request.network ?? false,
        image: request.image ?? defaults.image,
        stdout: logWriter(log, 'stdout'),
        stderr: logWriter(log, 'stderr'),
        signal,
      });
      if (workspace) await this.#repository.touchWorkspace(owner, workspace, now());
      return outcome(result);
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
    const record: JobRecord = {
      ...newJob(owner, 'exec', request.argv, null, sandbox),
      ...this.#instance,
      runOptions: { timeoutMs },
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
        return this.#followExec(command, log, signal, timeoutMs);
      },
      { queued: false },
    );
  }

  /**
   * Continues an exec job a gone server process started, in its sandbox (attached again): the
   * command's output is replayed from where the stored log ends.
   */
  adoptExec(record: JobRecord, sandbox: Sandbox): JobRecord {
    const startedAt = Date.parse(record.startedAt ?? record.createdAt);
    const timeoutMs = Number(record.runOptions?.timeoutMs ?? this.#context.defaults.timeoutMs);
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
      return this.#followExec(command, log, signal, startedAt + timeoutMs - Date.now());
    });
  }

  /**
   * Continues a run job a gone server process started, in its sandbox (attached again): the
   * command is picked up where the stored log ends, then the sandbox is torn down or parked and
   * the workspace synced, as the run would have done.
   */
  adoptRun(record: JobRecord, sandbox: Sandbox): JobRecord {
    const run = record.runOptions as unknown as StoredRunOptions;
    this.#context.scheduler?.adopt(sandbox);
    return this.#adopt(record, async (log, signal) => {
      const offsets = await this.#repository.logStreamBytes(record.id);
      try {
        const result = await continueRun(this.#context, {
          sandbox,
          key: record.id,
          offsets: { stdoutOffset: offsets.stdout, stderrOffset: offsets.stderr },
          run,
          startedAt: record.startedAt ?? record.createdAt,
          killGraceMs: this.#killGraceMs,
          stdout: logWriter(log, 'stdout'),
          stderr: logWriter(log, 'stderr'),
          signal,
        });
        if (record.workspace)
          await this.#repository.touchWorkspace(record.owner, record.workspace, now());
        return outcome(result);
      } catch (error) {
        if (error instanceof MagsError && error.code === 'job_lost') return lostOutcome(log, error);
        throw error;
      }
    });
  }

  /** A job a gone server process left that cannot continue: failed, with why, in its log too. */
  async failAdopted(record: JobRecord, reason: string): Promise<void> {
    const log = new JobLog(this.#repository, record.id, { startOffset: record.logBytes });
    log.append('stderr', Buffer.from(`mags: ${reason}\n`));
    await log.finish();
    await this.#repository.updateJob(record.id, {
      status: 'failed',
      exitCode: null,
      signal: null,
      reason,
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

  #adopt(
    record: JobRecord,
    body: (log: JobLog, signal: AbortSignal) => Promise<Outcome>,
  ): JobRecord {
    // It already runs: no queue, but it counts against its owner's running jobs.
    const ticket = this.#slots.enter(record.owner);
    return this.#track({ ...record, status: 'running' }, ticket, body, { adopted: true });
  }

  async #followExec(
    command: SandboxProcess,
    log: JobLog,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<Outcome> {
    command.stdout.on('data', (chunk: Buffer) => log.append('stdout', chunk));
    command.stderr.on('data', (chunk: Buffer) => log.append('stderr', chunk));
    let timedOut = false;
    const stop = () => {
      command.signal('SIGTERM');
      killTimer ??= setTimeout(() => command.signal('SIGKILL'), this.#killGraceMs);
    };
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(
      () => {
        timedOut = true;
        stop();
      },
      Math.max(0, timeoutMs),
    );
    signal.addEventListener('abort', stop, { once: true });
    try {
      const result = await command.exited;
      await Promise.all([drained(command.stdout), drained(command.stderr)]);
      return outcome({ ...result, timedOut, cancelled: signal.aborted, oomKilled: false });
    } catch (error) {
      if (error instanceof MagsError && error.code === 'guest_exec_failed') {
        log.append('stderr', Buffer.from(`mags: ${error.message}\n`));
        return { status: 'failed', exitCode: 127, signal: null, reason: error.message };
      }
      throw error;
    } finally {
      clearTimeout(timer);
      clearTimeout(killTimer);
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

  /** Stops every job (a server shutting down) and records them as stopped. */
  async shutdown(): Promise<void> {
    const live = [...this.#live.values()];
    for (const job of live) job.abort.abort('shutdown');
    await Promise.allSettled(live.map((job) => job.done));
  }

  async #start(
    record: JobRecord,
    ticket: Ticket,
    body: (log: JobLog, signal: AbortSignal) => Promise<Outcome>,
    options: { queued: boolean } = { queued: true },
  ): Promise<JobRecord> {
    try {
      await this.#repository.insertJob(record);
    } catch (error) {
      ticket.release();
      throw error;
    }
    return this.#track(record, ticket, body, { queued: options.queued, adopted: false });
  }

  #track(
    record: JobRecord,
    ticket: Ticket,
    body: (log: JobLog, signal: AbortSignal) => Promise<Outcome>,
    options: { queued?: boolean; adopted: boolean },
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
    };
    this.#live.set(record.id, live);
    const update = async (patch: Partial<JobRecord>) => {
      Object.assign(record, patch);
      await this.#repository.updateJob(record.id, patch);
    };
    live.done = (async () => {
      let result: Outcome;
      try {
        // A job stopped while queued leaves the queue at once instead of waiting for a slot.
        await grantedOrAborted(ticket, abort.signal);
        if (abort.signal.aborted) {
          result = { status: 'stopped', exitCode: null, signal: null, reason: stopReason(abort) };
        } else {
          if (!options.adopted) await update({ status: 'running', startedAt: now() });
          result = await body(log, abort.signal);
          if (result.status === 'stopped') result.reason = stopReason(abort);
        }
      } catch (error) {
        if (this.#detached) return { ...record }; // its command runs on; the next server finishes it
        // The job's log and reason are read by its owner: in their words, without host details.
        const facing = ownerFacingError(error, record.owner, serverLocations(this.#context));
        if (facing.withheld) console.error(`[job ${record.id}] owner ${record.owner}:`, error);
        const hint = facing.hint ? `\n  hint: ${facing.hint}` : '';
        log.append('stderr', Buffer.from(`mags: ${facing.message}${hint}\n`));
        result = { status: 'failed', exitCode: null, signal: null, reason: facing.message };
      } finally {
        ticket.release();
      }
      // Let go of (a detaching shutdown): recorded as running, for the next server process.
      if (this.#detached) return { ...record };
      live.finishing = true;
      try {
        await log.finish();
      } finally {
        quota?.close(); // its output now counts as finished output, which retention may remove
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
  return { status: 'failed', exitCode: null, signal: null, reason };
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
