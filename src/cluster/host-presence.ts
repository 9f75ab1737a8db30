import {
  type ServerInstance,
  serverIsAlive,
  serverIsOnThisMachine,
} from '../config/server-instance.ts';
import type { HostBeat, HostRecord, StateRepository } from '../state/state-repository.ts';
import { hostIdInUse } from './cluster-errors.ts';

/**
 * Why this host's heartbeat was refused: `gone`, another server found it silent (and failed its
 * work); `replaced`, another server process registered its id after it fell silent (its record,
 * not gone, is that process's now: nothing of this one's was failed, and none will be by a sweep).
 */
export type HostLost = { kind: 'gone'; reason: string | null } | { kind: 'replaced'; by: string };

export interface HostPresenceOptions {
  repository: StateRepository;
  instance: ServerInstance;
  /** Its API's base URL for the other servers (`--advertise`). */
  address: string | null;
  runtimes: string[];
  /** What the heartbeat reports: jobs it may run at once, runs now (and queues), keeps warm. */
  load(): { maxJobs: number; runningJobs: number; warmWorkspaces: string[] };
  heartbeatMs: number;
  /** A host silent this long is gone (and its id free for another server process). */
  hostTimeoutMs: number;
  /** Said while the start waits for a previous server of this host id to fall silent. */
  log(line: string): void;
  /** Another server declared this host gone (its heartbeat was refused): it must stop working. */
  onGone(how: HostLost): void;
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
    await this.#register(record);
    await repository.notify('hosts', record.id).catch(() => {});
    this.#timer = setInterval(() => {
      this.#beating = this.#beating.then(() => this.#beat());
    }, this.#options.heartbeatMs);
    this.#timer.unref();
    return record;
  }

  /**
   * Registers, unless another live server process serves this host id (refused with
   * `host_id_in_use`). Live is judged here: a record whose heartbeat is within the timeout on this
   * server's clock. A restart after a crash takes the id at once when the old process was on this
   * machine and no longer runs (serverIsAlive); otherwise it waits until the old heartbeat has not
   * changed for the host timeout (measured here, so clocks that disagree do not matter), at most
   * the timeout and a beat, and refuses if it changed (the other is beating).
   */
  async #register(record: HostRecord): Promise<void> {
    const { repository, hostTimeoutMs, heartbeatMs } = this.#options;
    const liveIfBeatAfter = new Date(Date.now() - hostTimeoutMs).toISOString();
    const holder = await repository.registerHost(record, { liveIfBeatAfter });
    if (holder === undefined) return;
    const ageMs = () => Date.now() - Date.parse(holder.heartbeatAt);
    if (serverIsOnThisMachine(holder.server)) {
      if (serverIsAlive(holder.server)) throw hostIdInUse(holder, ageMs());
      // Its process is gone: replaced unless another took the id since (then that one is live).
      const again = await repository.registerHost(record, { liveIfBeatAfter: holder.heartbeatAt });
      if (again !== undefined) throw hostIdInUse(again, Date.now() - Date.parse(again.heartbeatAt));
      return;
    }
    this.#options.log(
      `host ${record.id} is recorded as served by ${holder.server} (heartbeat ${(ageMs() / 1000).toFixed(1)} s ago): waiting up to ${(hostTimeoutMs + heartbeatMs) / 1000} s for it to fall silent (a restart after a crash) before taking the id`,
    );
    const waitedFromMs = performance.now();
    while (performance.now() - waitedFromMs < hostTimeoutMs + heartbeatMs) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(heartbeatMs, hostTimeoutMs)));
      const now = (await repository.listHosts()).find((host) => host.id === record.id);
      if (
        now?.server === holder.server &&
        now.goneAt === null &&
        now.heartbeatAt !== holder.heartbeatAt
      )
        throw hostIdInUse(now, 0);
      if (now === undefined || now.goneAt !== null || now.server !== holder.server) break;
      if (performance.now() - waitedFromMs >= hostTimeoutMs) break;
    }
    const again = await repository.registerHost(record, { liveIfBeatAfter: holder.heartbeatAt });
    if (again !== undefined) throw hostIdInUse(again, Date.now() - Date.parse(again.heartbeatAt));
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
    const now = await repository
      .listHosts()
      .then((hosts) => hosts.find((host) => host.id === instance.host))
      .catch(() => undefined);
    this.#options.onGone(
      now && now.goneAt === null && now.server !== instance.server
        ? { kind: 'replaced', by: now.server }
        : { kind: 'gone', reason: now?.goneReason ?? null },
    );
  }

  /**
   * No more heartbeats, and nothing written: this host falls silent on purpose (it cannot record
   * its work), so the other servers declare it gone and fail its jobs. `gone` from now on.
   */
  silence(): void {
    this.#gone = true;
    clearInterval(this.#timer);
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
