import { formatBytes } from '../config/byte-sizes.ts';
import type { StateRepository, StoredLog } from '../state/state-repository.ts';
import type { JobLogOptions } from './job-log.ts';

export interface LogRetentionOptions {
  /** Finished jobs' output older than this is removed (default 7 days; 0 keeps it forever). */
  maxAgeMs?: number;
  /** All stored output at most (default 10 GiB); the oldest finished output goes first. */
  maxTotalBytes?: number;
  /** One owner's stored output at most (default 2 GiB); their oldest finished output goes first. */
  maxOwnerBytes?: number;
  /** How often the age rule is applied in the background (default 10 minutes). */
  intervalMs?: number;
  /** The clock, in milliseconds since the epoch (tests move it instead of waiting days). */
  now?: () => number;
  /** Where a failed background pass is reported (default: the server's stderr). */
  onError?: (error: unknown) => void;
}

const day = 24 * 60 * 60 * 1000;
const gibibyte = 1024 ** 3;
/** Jobs looked at per query while removing; removal goes on until the rule holds. */
const batchSize = 100;

/**
 * Keeps stored job output bounded: by age, by owner (the quota) and in total. Finished jobs'
 * output is removed oldest first (the job record stays, marked with when and why); running jobs'
 * output is never removed, but a running job is truncated when its owner's running jobs together
 * would pass the quota (or all running jobs the total), so one owner cannot fill the disk.
 *
 * The database is the truth; the counters here only decide when to look at it again: after a
 * check, an owner (and the server) has headroom that only new output can use up, since every
 * other change (a removal, a deleted job) frees space.
 */
export class LogRetention {
  readonly maxAgeMs: number;
  readonly maxTotalBytes: number;
  readonly maxOwnerBytes: number;
  readonly #repository: StateRepository;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  /** Output appended by running jobs, stored or not yet: what cannot be removed to make room. */
  readonly #running = new Map<string, number>();
  #runningTotal = 0;
  /** Bytes an owner (or anyone: undefined) may store before the database is looked at again. */
  readonly #headroom = new Map<string | undefined, number>();
  /** One check at a time, in order: two checks must not both remove for the same excess. */
  #checks: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(repository: StateRepository, options: LogRetentionOptions = {}) {
    this.#repository = repository;
    this.maxAgeMs = options.maxAgeMs ?? 7 * day;
    this.maxTotalBytes = options.maxTotalBytes ?? 10 * gibibyte;
    this.maxOwnerBytes = options.maxOwnerBytes ?? 2 * gibibyte;
    this.#intervalMs = options.intervalMs ?? 10 * 60 * 1000;
    this.#now = options.now ?? Date.now;
    this.#onError =
      options.onError ??
      ((error) => process.stderr.write(`mags server: log retention failed: ${String(error)}\n`));
  }

  /** Applies every rule now, then the age rule again every interval, until `stop`. */
  start(): void {
    const pass = () => void this.enforce().catch(this.#onError);
    pass();
    this.#timer = setInterval(pass, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Removes what the age rule, the quotas and the total say must go. */
  enforce(): Promise<{ jobs: number; bytes: number }> {
    return this.#serially(async () => {
      const removed: StoredLog[] = [];
      if (this.maxAgeMs > 0) {
        const finishedBefore = new Date(this.#now() - this.maxAgeMs).toISOString();
        const reason = `older than ${formatDays(this.maxAgeMs)} (server log retention)`;
        for (;;) {
          const old = await this.#repository.listStoredLogs({ finishedBefore, limit: batchSize });
          const batch = await this.#remove(old, reason);
          removed.push(...batch);
          if (old.length < batchSize || batch.length === 0) break;
        }
      }
      const owners = await this.#repository.storedLogOwners();
      for (const owner of owners) removed.push(...(await this.#fit(owner)));
      removed.push(...(await this.#fit(undefined)));
      return { jobs: removed.length, bytes: removed.reduce((sum, log) => sum + log.bytes, 0) };
    });
  }

  /** The hooks a running job's log uses: the quota check and the stored-output report. */
  forJob(owner: string): Required<Pick<JobLogOptions, 'refuse' | 'onStored'>> & {
    close(): void;
  } {
    let reserved = 0;
    return {
      refuse: (bytes) => {
        const running = this.#running.get(owner) ?? 0;
        if (running + bytes > this.maxOwnerBytes) {
          return `your stored output reached its quota of ${formatBytes(this.maxOwnerBytes)}`;
        }
        if (this.#runningTotal + bytes > this.maxTotalBytes) {
          return `the server's stored output reached its limit of ${formatBytes(this.maxTotalBytes)}`;
        }
        this.#running.set(owner, running + bytes);
        this.#runningTotal += bytes;
        reserved += bytes;
        return undefined;
      },
      onStored: (bytes) => this.#stored(owner, bytes),
      close: () => {
        const left = (this.#running.get(owner) ?? 0) - reserved;
        if (left > 0) this.#running.set(owner, left);
        else this.#running.delete(owner);
        this.#runningTotal -= reserved;
        reserved = 0;
      },
    };
  }

  /** New output was stored: past the headroom, finished output is removed to make room. */
  #stored(owner: string, bytes: number): void {
    const over: Array<string | undefined> = [];
    for (const key of [owner, undefined]) {
      const left = (this.#headroom.get(key) ?? 0) - bytes;
      // Until the check has run, more output must not queue another one for the same excess.
      this.#headroom.set(key, left < 0 ? Number.POSITIVE_INFINITY : left);
      if (left < 0) over.push(key);
    }
    if (over.length === 0) return;
    void this.#serially(async () => {
      for (const key of over) await this.#fit(key);
    }).catch((error: unknown) => {
      for (const key of over) this.#headroom.delete(key);
      this.#onError(error);
    });
  }

  /** Removes the oldest finished output of `owner` (or anyone) until it fits its limit. */
  async #fit(owner: string | undefined): Promise<StoredLog[]> {
    const limit = owner === undefined ? this.maxTotalBytes : this.maxOwnerBytes;
    const reason =
      owner === undefined
        ? `the server's stored output passed its limit of ${formatBytes(limit)}; oldest removed first`
        : `your stored output passed its quota of ${formatBytes(limit)}; oldest removed first`;
    const removed: StoredLog[] = [];
    let stored = await this.#repository.storedLogBytes(owner);
    while (stored > limit) {
      const oldest = await this.#repository.listStoredLogs({ owner, limit: batchSize });
      const chosen: StoredLog[] = [];
      let excess = stored - limit;
      for (const log of oldest) {
        if (excess <= 0) break;
        chosen.push(log);
        excess -= log.bytes;
      }
      const batch = await this.#remove(chosen, reason);
      if (batch.length === 0) break; // the rest is running jobs' output
      removed.push(...batch);
      stored -= batch.reduce((sum, log) => sum + log.bytes, 0);
    }
    this.#headroom.set(owner, limit - stored);
    return removed;
  }

  #remove(logs: StoredLog[], reason: string): Promise<StoredLog[]> {
    if (logs.length === 0) return Promise.resolve([]);
    const at = new Date(this.#now()).toISOString();
    return this.#repository.removeLogs(
      logs.map((log) => log.id),
      at,
      reason,
    );
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#checks.then(work);
    this.#checks = result.catch(() => {});
    return result;
  }
}

function formatDays(milliseconds: number): string {
  const days = milliseconds / day;
  return Number.isInteger(days) ? `${days} days` : `${Math.round(milliseconds / 1000)} s`;
}
