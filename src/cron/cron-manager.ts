import type { z } from '@hono/zod-openapi';
import type { CreateCronBodySchema, CronRun, CronRunTrigger } from '../api/cron.ts';
import type { RunJobBody } from '../api/schemas.ts';
import { type CronSchedule, parseCronSchedule } from '../config/cron-schedule.ts';
import { randomId } from '../config/random-id.ts';
import { ScheduleTimer } from '../config/schedule-timer.ts';
import type { JobManager } from '../jobs/job-manager.ts';
import type {
  BusyCronRun,
  CronJobRecord,
  CronRunRecord,
  JobRecord,
  StateRepository,
} from '../state/state-repository.ts';
import { cronExists, cronLimit, cronNotFound } from './cron-errors.ts';
import { cronOrigin } from './cron-job-body.ts';
import { startCronRun } from './cron-run-start.ts';
import { type CronSettings, cronSettings } from './cron-settings.ts';
import { checkCronSpec } from './cron-spec-checks.ts';
import { type StartReport, startCronJobs, unsubmittedAfterMs } from './cron-start.ts';
import { toCronRunView } from './cron-views.ts';
import { newCronRun, showTime } from './new-cron-run.ts';

export type CreateCronRequest = z.infer<typeof CreateCronBodySchema>;

export interface CronManagerOptions {
  repository: StateRepository;
  /** Where the runs' jobs are read and stopped. */
  jobs: Pick<JobManager, 'get' | 'stop'>;
  /** Starts a run job as `POST /v1/jobs` does (the server's `submitRunJob`). */
  submit(owner: string, body: RunJobBody, options: { origin: string }): Promise<JobRecord>;
  settings?: Partial<CronSettings>;
  /** Where the MAGS_CRON_* variables are read (default process.env). */
  environment?: NodeJS.ProcessEnv;
  /**
   * Whether this server fires `owner`'s cron jobs (default all): the host's own `local` owner's
   * only on its local server, the one the CLI talks to without a URL.
   */
  firesFor?: (owner: string) => boolean;
  /** Owners the minimum interval does not apply to (the host's own). */
  unlimited?: (owner: string) => boolean;
  log?: (line: string) => void;
  now?: () => number;
}

interface Armed {
  record: CronJobRecord;
  schedule: CronSchedule;
  timer: ScheduleTimer;
}

/**
 * Cron jobs (`mags cron`): one ScheduleTimer per unpaused cron job of this server; at each time
 * the run is claimed in the state (once, whichever server process on the same state gets there
 * first) and submitted as an ordinary job, unless the previous run's job is still queued or
 * running (then it is recorded as skipped, with the reason; checked in the claim's transaction).
 * At start, times that passed while no server ran are handled by each cron job's catch-up policy
 * (`cron-start.ts`, `cron-catch-up.ts`).
 */
export class CronManager {
  readonly #repository: StateRepository;
  readonly #jobs: CronManagerOptions['jobs'];
  readonly #submit: CronManagerOptions['submit'];
  readonly #settings: CronSettings;
  readonly #firesFor: (owner: string) => boolean;
  readonly #unlimited: (owner: string) => boolean;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  readonly #armed = new Map<string, Armed>();
  /** Per cron job, the tail of its runs being handled: one at a time, so two never both start. */
  readonly #turns = new Map<string, Promise<unknown>>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #stopped = false;

  constructor(options: CronManagerOptions) {
    this.#repository = options.repository;
    this.#jobs = options.jobs;
    this.#submit = options.submit;
    this.#settings = cronSettings(options.settings, options.environment);
    this.#firesFor = options.firesFor ?? (() => true);
    this.#unlimited = options.unlimited ?? (() => false);
    this.#log = options.log ?? ((line) => process.stderr.write(`mags server: ${line}\n`));
    this.#now = options.now ?? Date.now;
  }

  get settings(): CronSettings {
    return this.#settings;
  }

  /**
   * Arms every unpaused cron job this server fires, after handling the times missed while no
   * server ran. Returns how many it armed, caught up, and could not arm.
   */
  start(): Promise<StartReport> {
    return startCronJobs(new Date(this.#now()), {
      repository: this.#repository,
      keepRuns: this.#settings.history,
      firesFor: this.#firesFor,
      log: this.#log,
      run: (record, scheduledAt, reason) =>
        this.#handle(record, scheduledAt, 'catch-up', reason).catch((error: unknown) => {
          this.#logFailure(record, error);
          return undefined;
        }),
      arm: (record, schedule, after) => this.#arm(record, schedule, after),
    });
  }

  /** Stops every timer and waits for the runs being handled (a server shutting down). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const armed of this.#armed.values()) armed.timer.stop();
    this.#armed.clear();
    await Promise.allSettled([...this.#inFlight]);
  }

  async create(owner: string, request: CreateCronRequest): Promise<CronJobRecord> {
    const { name, ...spec } = request;
    const now = new Date(this.#now());
    const schedule = checkCronSpec(spec, {
      minIntervalSeconds: this.#unlimited(owner) ? 0 : this.#settings.minIntervalSeconds,
      now,
    });
    const record: CronJobRecord = {
      id: randomId('crn_'),
      owner,
      name,
      ...spec,
      // As Intl spells it (`europe/berlin` → `Europe/Berlin`).
      timezone: schedule.timezone,
      paused: false,
      lastRunAt: null,
      nextRunAt: schedule.nextAfter(now)?.toISOString() ?? null,
      resumedAt: null,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    // The name's uniqueness and the per-owner cap are checked in the insert's transaction: of
    // two creations at once, one is refused.
    const outcome = await this.#repository.insertCronJob(record, this.#settings.maxPerOwner);
    if (outcome === 'exists') throw cronExists(name);
    if (outcome === 'limit') {
      throw cronLimit(this.#settings.maxPerOwner);
    }
    if (this.#firesFor(owner)) await this.#arm(record, schedule);
    return this.get(owner, name);
  }

  list(owner: string): Promise<CronJobRecord[]> {
    return this.#repository.listCronJobs(owner);
  }

  async get(owner: string, name: string): Promise<CronJobRecord> {
    const record = await this.#repository.getCronJob(owner, name);
    if (!record) throw cronNotFound(name);
    return record;
  }

  /**
   * Removes the cron job and its history. Its runs still queued or running are left to finish
   * (ordinary jobs), or stopped with `stop` (every one: with allowOverlap there may be several).
   */
  async remove(owner: string, name: string, options: { stop?: boolean } = {}): Promise<void> {
    const record = await this.get(owner, name);
    this.#disarm(record.id);
    await this.#inTurn(record.id, async () => {
      await this.#repository.deleteCronJob(owner, name);
      if (!options.stop) return;
      for (const jobId of await this.#repository.liveJobsOfOrigin(owner, cronOrigin(record))) {
        await this.#jobs.stop(owner, jobId);
      }
    });
  }

  /** Pauses its schedule: no scheduled run until resumed. A manual run still runs (`runNow`). */
  async pause(owner: string, name: string): Promise<CronJobRecord> {
    const record = await this.get(owner, name);
    this.#disarm(record.id);
    await this.#repository.updateCronJob(record.id, {
      paused: true,
      nextRunAt: null,
      updatedAt: new Date(this.#now()).toISOString(),
    });
    return this.get(owner, name);
  }

  /** Arms it again from now: what it missed while paused is not run. */
  async resume(owner: string, name: string): Promise<CronJobRecord> {
    const record = await this.get(owner, name);
    if (!record.paused) return record;
    const now = new Date(this.#now()).toISOString();
    await this.#repository.updateCronJob(record.id, {
      paused: false,
      resumedAt: now,
      updatedAt: now,
    });
    const resumed = await this.get(owner, name);
    if (this.#firesFor(owner)) {
      await this.#arm(resumed, parseCronSchedule(resumed.schedule, resumed.timezone));
    }
    return this.get(owner, name);
  }

  /**
   * A run now, outside the schedule, under the same overlap rule; paused or not (a pause stops
   * the schedule, not its owner's own request). 404 when the cron job is removed meanwhile.
   */
  async runNow(owner: string, name: string): Promise<CronRun> {
    const record = await this.get(owner, name);
    const run = await this.#handle(record, new Date(this.#now()), 'manual');
    if (!run) throw cronNotFound(name);
    return this.#view(run);
  }

  /** Its runs, newest first, each with its job's state now. */
  async runs(
    owner: string,
    name: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ runs: CronRun[]; nextCursor: string | null }> {
    const record = await this.get(owner, name);
    const { runs, nextCursor } = await this.#repository.listCronRuns(record.id, page);
    return { runs: await Promise.all(runs.map((run) => this.#view(run))), nextCursor };
  }

  async #view(run: CronRunRecord): Promise<CronRun> {
    const job = run.jobId
      ? await this.#jobs.get(run.owner, run.jobId).catch(() => undefined)
      : undefined;
    return toCronRunView(run, job);
  }

  /**
   * Arms its timer for the first time after `after` (default now; a start passes the `now` it
   * caught up to, and a time since then fires at once).
   */
  async #arm(record: CronJobRecord, schedule: CronSchedule, after?: Date): Promise<void> {
    if (this.#stopped) return;
    this.#disarm(record.id);
    const timer = new ScheduleTimer(
      schedule,
      (scheduledAt) =>
        this.#handle(record, scheduledAt, 'schedule').then(
          () => {},
          (error: unknown) => this.#logFailure(record, error),
        ),
      { now: this.#now },
    );
    this.#armed.set(record.id, { record, schedule, timer });
    if (after) timer.start(after, { catchUp: true });
    else timer.start();
    await this.#repository.updateCronJob(record.id, {
      nextRunAt: timer.next?.toISOString() ?? null,
    });
  }

  #disarm(id: string): void {
    this.#armed.get(id)?.timer.stop();
    this.#armed.delete(id);
  }

  /**
   * Handles one time of the cron job: skipped while another run's job is queued or running
   * (unless it allows overlap), else started as a job. A scheduled or catch-up time is claimed in
   * the state first, with its run, so it is handled once; undefined when it was already (or the
   * cron job is gone or paused; a manual run: gone). A failure of the state is thrown.
   */
  #handle(
    record: CronJobRecord,
    scheduledAt: Date,
    trigger: CronRunTrigger,
    note?: string,
  ): Promise<CronRunRecord | undefined> {
    const handled = this.#inTurn(record.id, async () => {
      const now = new Date(this.#now());
      const run = newCronRun(record, {
        scheduledAt,
        at: now,
        status: 'started',
        trigger,
        reason: note ?? null,
      });
      const recording = {
        keepRuns: this.#settings.history,
        busy: record.allowOverlap
          ? undefined
          : {
              since: new Date(now.getTime() - unsubmittedAfterMs).toISOString(),
              reason: busyReason,
            },
      };
      let stored: CronRunRecord | undefined;
      if (trigger === 'manual') {
        stored = await this.#repository.insertCronRun(run, recording);
      } else {
        const armed = this.#armed.get(record.id)?.schedule;
        const next = armed?.nextAfter(scheduledAt > now ? scheduledAt : now) ?? null;
        stored = await this.#repository.claimCronRun(run, next?.toISOString() ?? null, recording);
      }
      if (stored?.status === 'started') {
        await startCronRun(record, stored, {
          repository: this.#repository,
          submit: this.#submit,
          log: this.#log,
        });
      }
      return stored;
    });
    this.#inFlight.add(handled);
    void handled.finally(() => this.#inFlight.delete(handled)).catch(() => {});
    return handled;
  }

  #logFailure(record: CronJobRecord, error: unknown): void {
    this.#log(`cron job ${record.name} (${record.owner}): ${(error as Error).message}`);
  }

  #inTurn<Result>(id: string, work: () => Promise<Result>): Promise<Result> {
    const before = this.#turns.get(id) ?? Promise.resolve();
    const turn = before.catch(() => {}).then(work);
    const tail = turn.catch(() => {});
    this.#turns.set(id, tail);
    void tail.then(() => {
      if (this.#turns.get(id) === tail) this.#turns.delete(id);
    });
    return turn;
  }
}

/** Why a new run is skipped: the run it would overlap. */
function busyReason(busy: BusyCronRun): string {
  const time = busy.trigger === 'manual' ? 'the manual run' : 'the run';
  const state = busy.jobId
    ? `(job ${busy.jobId}) is still ${busy.jobStatus}`
    : 'is still being submitted';
  return `${time} of ${showTime(busy.scheduledAt)} ${state}`;
}
