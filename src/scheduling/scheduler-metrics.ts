import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds: sandbox starts take milliseconds here, microVM boots seconds. */
const latencyBuckets = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The pool, warm-cache and sleep counters, in one Prometheus registry (served on `/metrics`)
 * and read back for `mags pool status`. Gauges are collected when scraped, from the live state.
 */
export class SchedulerMetrics {
  readonly registry = new Registry();
  readonly poolHits = new Counter({
    name: 'mags_pool_hits_total',
    help: 'Sandboxes claimed from the pool instead of started.',
    registers: [this.registry],
  });
  readonly poolMisses = new Counter({
    name: 'mags_pool_misses_total',
    help: 'Sandbox starts that could not use the pool, by reason (empty, disabled, network, image).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly poolRefillFailures = new Counter({
    name: 'mags_pool_refill_failures_total',
    help: 'Pool refills that failed (the pool status says why).',
    registers: [this.registry],
  });
  readonly warmHits = new Counter({
    name: 'mags_warm_cache_hits_total',
    help: 'Runs that reused their workspace’s parked sandbox.',
    registers: [this.registry],
  });
  readonly warmMisses = new Counter({
    name: 'mags_warm_cache_misses_total',
    help: 'Workspace runs that found no reusable parked sandbox, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly warmEvictions = new Counter({
    name: 'mags_warm_cache_evictions_total',
    help: 'Parked sandboxes stopped, by reason (expired, count, memory, invalidated, shutdown).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly notParked = new Counter({
    name: 'mags_warm_cache_not_parked_total',
    help: 'Finished runs whose sandbox was stopped instead of parked, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly sleeps = new Counter({
    name: 'mags_sandbox_sleeps_total',
    help: 'Idle long-lived sandboxes frozen.',
    registers: [this.registry],
  });
  readonly wakes = new Counter({
    name: 'mags_sandbox_wakes_total',
    help: 'Sleeping sandboxes woken by a request.',
    registers: [this.registry],
  });
  readonly startSeconds = new Histogram({
    name: 'mags_sandbox_start_seconds',
    help: 'Time to a usable sandbox, by path: start (cold), pool (claim and attach), warm (parked).',
    labelNames: ['path'] as const,
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly wakeSeconds = new Histogram({
    name: 'mags_sandbox_wake_seconds',
    help: 'Time to thaw a sleeping sandbox.',
    buckets: latencyBuckets,
    registers: [this.registry],
  });

  /** Gauges read from live state when `/metrics` is scraped. */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** A counter's total over all its labels, for `mags pool status`. */
  static async total(counter: Counter<string>): Promise<number> {
    const { values } = await counter.get();
    return values.reduce((sum, entry) => sum + entry.value, 0);
  }

  /** A counter's value per label value (e.g. misses per reason). */
  static async byLabel(counter: Counter<string>, label: string): Promise<Record<string, number>> {
    const { values } = await counter.get();
    const result: Record<string, number> = {};
    for (const entry of values) {
      const key = String(entry.labels[label] ?? '');
      result[key] = (result[key] ?? 0) + entry.value;
    }
    return result;
  }
}
