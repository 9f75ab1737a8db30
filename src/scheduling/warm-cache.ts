import { egressKey } from '../api/egress-rules.ts';
import type { EgressRule, ResourceLimits, Sandbox } from '../runtimes/runtime.ts';
import { ownsStorageName } from '../workspaces/owner-workspace.ts';
import type { SchedulerMetrics } from './scheduler-metrics.ts';

export interface WarmCacheOptions {
  /** How long a parked sandbox waits for its workspace's next run. 0 turns parking off. */
  ttlMs: number;
  /** Parked sandboxes at most; the oldest go first. */
  maxCount: number;
  /** Memory all parked sandboxes may hold together; the oldest go first. */
  maxMemoryBytes: number;
  metrics: SchedulerMetrics;
}

/** What a run needs to match for a parked sandbox to be reused. */
export interface ParkingTerms {
  /** The runtime it runs on, by name: a run on another runtime never gets it. */
  runtime: string;
  image: string;
  network: boolean;
  /** Its egress allow-list: a sandbox is reused only with the same list. */
  allow?: EgressRule[];
  /**
   * The limits it runs with. A runtime that can change them (`setLimits`) serves a run with
   * others; one that cannot (a VM's memory and vCPUs are fixed at boot) only a run with these.
   */
  limits: ResourceLimits;
}

export interface Parked extends ParkingTerms {
  sandbox: Sandbox;
  /** OOM kills so far: the next run reports only its own. */
  oomKills: number;
  memoryBytes: number;
}

interface Entry extends Parked {
  parkedAt: number;
  timer: NodeJS.Timeout;
}

export type EvictionReason = 'expired' | 'count' | 'memory' | 'invalidated' | 'died' | 'shutdown';

/**
 * Sandboxes parked after a run with their workspace still mounted, one per workspace (keyed by
 * the owner-qualified workspace name, so a parked sandbox only ever serves its own workspace
 * and owner). Kept in parking order, so eviction takes the oldest first.
 */
export class WarmCache {
  readonly #options: WarmCacheOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(options: WarmCacheOptions) {
    this.#options = options;
  }

  get enabled(): boolean {
    return this.#options.ttlMs > 0 && this.#options.maxCount > 0;
  }

  status(): {
    parked: number;
    memoryBytes: number;
    maxCount: number;
    maxMemoryBytes: number;
    ttlMs: number;
  } {
    return {
      parked: this.#entries.size,
      memoryBytes: this.#memoryBytes(),
      maxCount: this.#options.maxCount,
      maxMemoryBytes: this.#options.maxMemoryBytes,
      ttlMs: this.#options.ttlMs,
    };
  }

  /** The (owner-qualified) names of the workspaces with a parked sandbox. */
  parkedWorkspaces(): string[] {
    return [...this.#entries.keys()];
  }

  /** How many parked sandboxes hold workspaces of `owner` (what `/v1/pool` shows them). */
  parkedCountFor(owner: string): number {
    return this.parkedWorkspaces().filter((name) => ownsStorageName(owner, name)).length;
  }

  /**
   * The workspace's parked sandbox if it matches `terms` and still runs; it leaves the cache.
   * Misses are counted here, the hit by the caller once the sandbox is ready for the run.
   */
  async take(workspace: string, terms: ParkingTerms): Promise<Parked | undefined> {
    const entry = this.#entries.get(workspace);
    const { metrics } = this.#options;
    if (!entry) {
      metrics.warmMisses.inc({ reason: 'none' });
      return undefined;
    }
    this.#remove(workspace, entry);
    if (!entry.sandbox.isRunning()) {
      metrics.warmMisses.inc({ reason: 'died' });
      metrics.warmEvictions.inc({ reason: 'died' });
      await entry.sandbox.stop();
      return undefined;
    }
    if (entry.runtime !== terms.runtime) {
      // One writer per workspace: the run on the other runtime needs it, so this one goes.
      metrics.warmMisses.inc({ reason: 'runtime' });
      metrics.warmEvictions.inc({ reason: 'invalidated' });
      await entry.sandbox.stop();
      return undefined;
    }
    if (entry.image !== terms.image || networkKey(entry) !== networkKey(terms)) {
      metrics.warmMisses.inc({ reason: 'changed' });
      metrics.warmEvictions.inc({ reason: 'invalidated' });
      await entry.sandbox.stop();
      return undefined;
    }
    // What its allow-list refused after the last run's output was finished is no business of
    // this run: read and dropped.
    await entry.sandbox.egressBlocked?.().catch(() => []);
    return entry;
  }

  /**
   * Parks a sandbox whose run has ended, evicting the oldest to stay within the limits; a
   * sandbox that cannot fit is stopped. Returns whether it was parked.
   */
  async park(workspace: string, parked: Parked): Promise<boolean> {
    const { maxCount, maxMemoryBytes, ttlMs, metrics } = this.#options;
    await this.evict(workspace, 'invalidated'); // cannot happen while its lock is held; be sure
    if (!this.enabled || parked.memoryBytes > maxMemoryBytes) {
      metrics.notParked.inc({ reason: this.enabled ? 'memory' : 'disabled' });
      await parked.sandbox.stop();
      return false;
    }
    const evictions: Promise<unknown>[] = [];
    for (const [key, entry] of this.#entries) {
      const overCount = this.#entries.size >= maxCount;
      const overMemory = this.#memoryBytes() + parked.memoryBytes > maxMemoryBytes;
      if (!overCount && !overMemory) break;
      this.#remove(key, entry);
      metrics.warmEvictions.inc({ reason: overCount ? 'count' : 'memory' });
      evictions.push(entry.sandbox.stop());
    }
    const timer = setTimeout(() => void this.evict(workspace, 'expired'), ttlMs);
    timer.unref();
    this.#entries.set(workspace, { ...parked, parkedAt: Date.now(), timer });
    await Promise.allSettled(evictions);
    return true;
  }

  /**
   * Stops the workspace's parked sandbox, if any: its workspace is about to change, or another
   * sandbox needs it (a parked sandbox holds its workspace, writable).
   */
  async evict(workspace: string, reason: EvictionReason): Promise<void> {
    const entry = this.#entries.get(workspace);
    if (!entry) return;
    this.#remove(workspace, entry);
    this.#options.metrics.warmEvictions.inc({ reason });
    await entry.sandbox.stop();
  }

  /**
   * Empties the cache without stopping anything and returns what it held: the caller detaches
   * each sandbox, leaving it running for the next server process (capability reattach of its
   * runtime), or stops it.
   */
  letGo(): Parked[] {
    const entries = [...this.#entries];
    for (const [key, entry] of entries) this.#remove(key, entry);
    return entries.map(([, entry]) => entry);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#entries.keys()].map((key) => this.evict(key, 'shutdown')));
  }

  #remove(workspace: string, entry: Entry): void {
    clearTimeout(entry.timer);
    this.#entries.delete(workspace);
  }

  #memoryBytes(): number {
    let total = 0;
    for (const entry of this.#entries.values()) total += entry.memoryBytes;
    return total;
  }
}

/** The network a sandbox has: none, all, or an allow-list (which implies network) in any order. */
function networkKey(terms: Pick<ParkingTerms, 'network' | 'allow'>): string {
  if (terms.allow?.length) return `allow ${egressKey(terms.allow)}`;
  return terms.network ? 'all' : 'none';
}
