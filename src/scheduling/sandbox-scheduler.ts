import { requireCapability, sandboxOperation } from '../runtimes/require-capability.ts';
import type { ResourceLimits, Runtime, Sandbox, SandboxSpec } from '../runtimes/runtime.ts';
import { attachPrepared, type PoolStatus, SandboxPool } from './sandbox-pool.ts';
import { SchedulerMetrics } from './scheduler-metrics.ts';
import { type Parked, type ParkingTerms, WarmCache } from './warm-cache.ts';

export interface SandboxSchedulerOptions {
  /** The default runtime: the pool prepares its sandboxes (when it can: capability prepare). */
  runtime: Runtime;
  /** Every runtime sandboxes are started on, by name (default: only `runtime`). */
  runtimes?: Readonly<Record<string, Runtime>>;
  pool: {
    size: number;
    image: string;
    limits: ResourceLimits;
    maxHostMemoryPercent?: number;
    ready: () => Promise<void>;
  };
  warm: { ttlMs: number; maxCount: number; maxMemoryBytes: number };
}

export interface SchedulerStatus {
  pool: PoolStatus;
  warm: ReturnType<WarmCache['status']>;
  /** Sandboxes handed out and running (jobs and long-lived sandboxes). */
  busy: number;
  total: number;
  counters: {
    poolHits: number;
    poolMisses: Record<string, number>;
    poolRefillFailures: number;
    warmHits: number;
    warmMisses: Record<string, number>;
    warmEvictions: Record<string, number>;
    notParked: Record<string, number>;
    sleeps: number;
    wakes: number;
  };
}

/**
 * Where a server's sandboxes come from and go to: a parked sandbox of the same workspace
 * (warm cache), else a pooled one attached to its layers, else a fresh start; after a run, back
 * into the warm cache or stopped. In-process CLI runs do without one (start and stop).
 */
export class SandboxScheduler {
  readonly metrics = new SchedulerMetrics();
  readonly pool: SandboxPool;
  readonly warm: WarmCache;
  readonly #runtime: Runtime;
  readonly #runtimes: Readonly<Record<string, Runtime>>;
  readonly #handedOut = new Set<Sandbox>();

  constructor(options: SandboxSchedulerOptions) {
    this.#runtime = options.runtime;
    this.#runtimes = options.runtimes ?? { [options.runtime.name]: options.runtime };
    // One pool, the default runtime's, and only when it can prepare sandboxes: the others start
    // theirs when asked (a microVM's warm path is the warm cache, not the pool).
    this.pool = new SandboxPool({
      ...options.pool,
      size: options.runtime.capabilities.prepare ? options.pool.size : 0,
      runtime: options.runtime,
      metrics: this.metrics,
    });
    this.warm = new WarmCache({ ...options.warm, metrics: this.metrics });
    const { metrics } = this;
    metrics.gauge(
      'mags_pool_idle',
      'Pooled sandboxes ready to be claimed.',
      () => this.pool.status().idle,
    );
    metrics.gauge(
      'mags_pool_size',
      'Pooled sandboxes the pool keeps ready.',
      () => this.pool.status().size,
    );
    metrics.gauge('mags_sandboxes_busy', 'Sandboxes handed out and running.', () => this.#busy());
    metrics.gauge('mags_warm_cache_parked', 'Parked sandboxes.', () => this.warm.status().parked);
    metrics.gauge(
      'mags_warm_cache_memory_bytes',
      'Memory held by parked sandboxes.',
      () => this.warm.status().memoryBytes,
    );
  }

  /** Starts filling the pool in the background. */
  open(): void {
    this.pool.start();
  }

  /**
   * A running sandbox for `spec` on `runtime` (default: the default runtime): claimed from the
   * pool when it serves that runtime and image, else started. A parked sandbox of the workspace
   * the spec uses is evicted first (it holds the workspace), whatever runtime it runs on.
   */
  async start(spec: SandboxSpec, runtime: Runtime = this.#runtime): Promise<Sandbox> {
    if (spec.workspace) await this.warm.evict(spec.workspace.name, 'invalidated');
    const image = spec.image.name;
    const startedAt = performance.now();
    let path: 'pool' | 'start' = 'start';
    let sandbox: Sandbox | undefined;
    const { size } = this.pool.status();
    const pooled = runtime === this.#runtime;
    const prepared = size > 0 && pooled && image === this.pool.image ? this.pool.take() : undefined;
    if (prepared) {
      sandbox = await attachPrepared(prepared, spec);
      if (sandbox) {
        path = 'pool';
        this.metrics.poolHits.inc();
      } else {
        this.metrics.poolMisses.inc({ reason: 'attach_failed' });
      }
    } else {
      const reason = !pooled
        ? 'runtime'
        : size === 0
          ? 'disabled'
          : image !== this.pool.image
            ? 'image'
            : 'empty';
      this.metrics.poolMisses.inc({ reason });
    }
    sandbox ??= await runtime.start(spec);
    this.metrics.startSeconds.observe({ path }, (performance.now() - startedAt) / 1000);
    this.#handedOut.add(sandbox);
    return sandbox;
  }

  /** The workspace's parked sandbox, ready for the next run with `limits`; undefined on a miss. */
  async takeParked(
    workspace: string,
    terms: ParkingTerms,
    limits: ResourceLimits,
  ): Promise<Parked | undefined> {
    const startedAt = performance.now();
    const parked = await this.warm.take(workspace, terms);
    if (!parked) return undefined;
    const runtime = this.#runtimeOf(parked);
    // A runtime that cannot change a running sandbox's limits serves only a run with the same.
    const limitsSet = runtime.capabilities.setLimits
      ? await sandboxOperation(
          runtime,
          parked.sandbox,
          'setLimits',
        )(limits).then(
          () => true,
          // E.g. a memory limit below what the sandbox holds now: a fresh sandbox it is.
          () => false,
        )
      : sameLimits(parked.limits, limits);
    if (!limitsSet) {
      this.metrics.warmMisses.inc({ reason: 'limits' });
      this.metrics.warmEvictions.inc({ reason: 'invalidated' });
      await parked.sandbox.stop();
      return undefined;
    }
    this.metrics.warmHits.inc();
    this.#handedOut.add(parked.sandbox);
    this.metrics.startSeconds.observe({ path: 'warm' }, (performance.now() - startedAt) / 1000);
    return parked;
  }

  /**
   * After a run on a workspace: parks the sandbox if it is fit to serve the workspace again,
   * otherwise stops it. Policy: a run that left processes behind, or whose sandbox died, is not
   * parked (the next run must start clean); everything the run wrote is in the workspace anyway.
   */
  async park(workspace: string, parked: Parked & { reusable: string | true }): Promise<boolean> {
    this.#handedOut.delete(parked.sandbox);
    if (parked.reusable !== true) {
      this.metrics.notParked.inc({ reason: parked.reusable });
      await parked.sandbox.stop();
      return false;
    }
    return this.warm.park(workspace, parked);
  }

  /** A sandbox a gone server process handed out (a run it started), now this one's. */
  adopt(sandbox: Sandbox): void {
    this.#handedOut.add(sandbox);
  }

  /**
   * Lets go of every parked sandbox without stopping it (a detaching shutdown: the next server
   * process parks them again); one on a runtime without `reattach` is stopped instead. The pool's
   * sandboxes are discarded (they never ran anything). Throws `CapabilityUnsupportedError`,
   * letting go of nothing, unless the default runtime has `reattach`.
   */
  async detach(): Promise<void> {
    requireCapability(this.#runtime, 'reattach');
    const parked = this.warm.letGo();
    await Promise.all([
      this.pool.close(),
      Promise.allSettled(
        parked.map(async (entry) => {
          const runtime = this.#runtimeOf(entry);
          if (!runtime.capabilities.reattach) await entry.sandbox.stop();
          else await sandboxOperation(runtime, entry.sandbox, 'detach')();
        }),
      ),
    ]);
  }

  /** The runtime a parked sandbox runs on (the default for a name this scheduler lacks). */
  #runtimeOf(parked: Parked): Runtime {
    return this.#runtimes[parked.runtime] ?? this.#runtime;
  }

  /**
   * The workspace (its storage name) is about to change (deleted, restored, used elsewhere):
   * drop its parked sandbox.
   */
  invalidate(workspace: string): Promise<void> {
    return this.warm.evict(workspace, 'invalidated');
  }

  async status(): Promise<SchedulerStatus> {
    const { metrics } = this;
    const pool = this.pool.status();
    const warm = this.warm.status();
    const busy = this.#busy();
    return {
      pool,
      warm,
      busy,
      total: pool.idle + pool.starting + warm.parked + busy,
      counters: {
        poolHits: await SchedulerMetrics.total(metrics.poolHits),
        poolMisses: await SchedulerMetrics.byLabel(metrics.poolMisses, 'reason'),
        poolRefillFailures: await SchedulerMetrics.total(metrics.poolRefillFailures),
        warmHits: await SchedulerMetrics.total(metrics.warmHits),
        warmMisses: await SchedulerMetrics.byLabel(metrics.warmMisses, 'reason'),
        warmEvictions: await SchedulerMetrics.byLabel(metrics.warmEvictions, 'reason'),
        notParked: await SchedulerMetrics.byLabel(metrics.notParked, 'reason'),
        sleeps: await SchedulerMetrics.total(metrics.sleeps),
        wakes: await SchedulerMetrics.total(metrics.wakes),
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.warm.close()]);
  }

  #busy(): number {
    for (const sandbox of this.#handedOut) {
      if (!sandbox.isRunning()) this.#handedOut.delete(sandbox);
    }
    return this.#handedOut.size;
  }
}

function sameLimits(a: ResourceLimits, b: ResourceLimits): boolean {
  return (
    a.memoryMiB === b.memoryMiB &&
    a.cpus === b.cpus &&
    a.pidsMax === b.pidsMax &&
    a.diskMiB === b.diskMiB
  );
}
