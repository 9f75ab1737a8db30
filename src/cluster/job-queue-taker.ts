import type { ServerInstance } from '../config/server-instance.ts';
import type { JobManager } from '../jobs/job-manager.ts';
import type { StateRepository } from '../state/state-repository.ts';
import type { StateListeners } from './state-listeners.ts';

export interface JobQueueTakerOptions {
  repository: StateRepository;
  listeners: StateListeners;
  instance: ServerInstance;
  jobs: Pick<JobManager, 'runPlaced'>;
  /** The slow poll, in case a `jobs_placed` notification was lost (default 5 s). */
  pollMs?: number;
  /** Jobs taken at once (they wait in this host's own queue beyond its running limit). */
  batch?: number;
  onError(error: unknown): void;
}

/**
 * Takes the jobs other servers placed on this host (`claimQueuedJobs`: of several processes
 * none takes one twice) when told (`jobs_placed` with this host's id) and at a slow poll, and
 * runs each exactly as a job submitted here (`JobManager.runPlaced`).
 */
export class JobQueueTaker {
  readonly #options: JobQueueTakerOptions;
  #timer: NodeJS.Timeout | undefined;
  #unlisten: (() => void) | undefined;
  #taking: Promise<void> = Promise.resolve();
  #again = false;
  #stopped = false;

  constructor(options: JobQueueTakerOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const { listeners, instance } = this.#options;
    this.#unlisten = await listeners.on('jobs_placed', instance.host, () => this.take());
    this.#timer = setInterval(() => this.take(), this.#options.pollMs ?? 5000);
    this.#timer.unref();
    this.take(); // what was placed while this host was down
  }

  /** Claims until the queue is empty; a call while claiming claims once more after. */
  take(): void {
    if (this.#stopped) return;
    if (this.#again) return;
    this.#again = true;
    this.#taking = this.#taking.then(async () => {
      this.#again = false;
      try {
        await this.#claimAll();
      } catch (error) {
        this.#options.onError(error);
      }
    });
  }

  async #claimAll(): Promise<void> {
    const { repository, instance, jobs } = this.#options;
    const batch = this.#options.batch ?? 16;
    while (!this.#stopped) {
      const claimed = await repository.claimQueuedJobs(instance.host, instance.server, batch);
      for (const record of claimed) await jobs.runPlaced(record);
      if (claimed.length < batch) return;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#unlisten?.();
    await this.#taking;
  }
}
