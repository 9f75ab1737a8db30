import type { ServerInstance } from '../config/server-instance.ts';
import type { HostBeat, HostRecord, StateRepository } from '../state/state-repository.ts';

export interface HostPresenceOptions {
  repository: StateRepository;
  instance: ServerInstance;
  /** Its API's base URL for the other servers (`--advertise`). */
  address: string | null;
  runtimes: string[];
  /** What the heartbeat reports: jobs it may run at once, runs now (and queues), keeps warm. */
  load(): { maxJobs: number; runningJobs: number; warmWorkspaces: string[] };
  heartbeatMs: number;
  /** Another server declared this host gone (its heartbeat was refused): it must stop working. */
  onGone(): void;
  /** A heartbeat that could not be written (the state unreachable): logged, tried again. */
  onError(error: unknown): void;
}

/**
 * This server as a host in the shared state: registered at start with its runtimes, capacity
 * and warm workspaces, a heartbeat every `heartbeatMs` refreshing its load, removed on a clean
 * stop. A refused heartbeat means another server found it silent and failed its work: `onGone`,
 * once, and no more heartbeats (coming back would resurrect a host whose jobs were failed).
 */
export class HostPresence {
  readonly #options: HostPresenceOptions;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> = Promise.resolve();
  #gone = false;
  #stopped = false;
  /** When the last heartbeat was written (this process's monotonic clock). */
  #lastBeatMs = performance.now();

  constructor(options: HostPresenceOptions) {
    this.#options = options;
  }

  get gone(): boolean {
    return this.#gone;
  }

  async start(): Promise<HostRecord> {
    const { repository, instance, address, runtimes } = this.#options;
    const at = new Date().toISOString();
    const record: HostRecord = {
      id: instance.host,
      server: instance.server,
      address,
      runtimes,
      ...this.#options.load(),
      startedAt: at,
      heartbeatAt: at,
      goneAt: null,
      goneReason: null,
    };
    await repository.registerHost(record);
    await repository.notify('hosts', record.id).catch(() => {});
    this.#timer = setInterval(() => {
      this.#beating = this.#beating.then(() => this.#beat());
    }, this.#options.heartbeatMs);
    this.#timer.unref();
    return record;
  }

  /**
   * Makes sure this host is still one before something is recorded as its work: when its last
   * heartbeat is older than two beats (this process was frozen, or the state unreachable), one
   * now, so that a host declared gone meanwhile learns it (`onGone`) first.
   */
  async confirm(): Promise<void> {
    if (this.#gone || performance.now() - this.#lastBeatMs <= 2 * this.#options.heartbeatMs) return;
    await this.beat();
  }

  /** One heartbeat now (also what the timer does). */
  async beat(): Promise<void> {
    this.#beating = this.#beating.then(() => this.#beat());
    await this.#beating;
  }

  async #beat(): Promise<void> {
    if (this.#gone || this.#stopped) return;
    const { repository, instance } = this.#options;
    const beat: HostBeat = { heartbeatAt: new Date().toISOString(), ...this.#options.load() };
    try {
      if (await repository.heartbeatHost(instance.host, instance.server, beat)) {
        this.#lastBeatMs = performance.now();
        return;
      }
    } catch (error) {
      this.#options.onError(error);
      return;
    }
    this.#gone = true;
    clearInterval(this.#timer);
    this.#options.onGone();
  }

  /** No more heartbeats; `remove`: the host's record removed too (unless it was gone). */
  async stop(options: { remove: boolean }): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#beating;
    const { repository, instance } = this.#options;
    if (options.remove && !this.#gone) {
      await repository.removeHost(instance.host, instance.server);
      await repository.notify('hosts', instance.host).catch(() => {});
    }
  }
}
