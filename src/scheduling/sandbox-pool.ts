import { readFile } from 'node:fs/promises';
import { uniqueSuffix } from '../config/unique-suffix.ts';
import { ConflictError, MagsError, NotFoundError } from '../errors/mags-error.ts';
import { runtimeOperation } from '../runtimes/require-capability.ts';
import type {
  PreparedSandbox,
  ResourceLimits,
  Runtime,
  Sandbox,
  SandboxSpec,
} from '../runtimes/runtime.ts';
import type { SchedulerMetrics } from './scheduler-metrics.ts';

export interface SandboxPoolOptions {
  runtime: Runtime;
  /** Idle sandboxes to keep ready; 0 turns the pool off. */
  size: number;
  /** The image pooled sandboxes serve (a run on another image starts its own). */
  image: string;
  /** Limits pooled sandboxes are created with; a claim with others rewrites them. */
  limits: ResourceLimits;
  /** Refilling pauses while the host's memory use is above this share (0-100). */
  maxHostMemoryPercent?: number;
  /** Checked before each refill: throws when pooled sandboxes would be of no use (no image). */
  ready: () => Promise<void>;
  metrics: SchedulerMetrics;
  /** Reads the host's memory use in percent (overridable for tests). */
  hostMemoryPercent?: () => Promise<number>;
}

export interface PoolStatus {
  /** The runtime its sandboxes are prepared by. */
  runtime: string;
  size: number;
  image: string;
  idle: number;
  starting: number;
  /** Why the pool cannot fill, when it cannot (cleared by the next refill that works). */
  error: string | null;
}

const maxBackoffMs = 30_000;
const refillDelayMs = 50;

/**
 * Sandboxes started ahead of time, up to their layers (`Runtime.prepare`), so a run claims one
 * and attaches its workspace instead of starting from nothing. A pooled sandbox has never run
 * anything: it is handed out once, and refilled in the background.
 */
export class SandboxPool {
  readonly #options: SandboxPoolOptions;
  readonly #idle: PreparedSandbox[] = [];
  #starting = 0;
  #error: string | null = null;
  #closed = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #refillTimer: NodeJS.Timeout | undefined;
  #backoffMs = 500;

  constructor(options: SandboxPoolOptions) {
    this.#options = options;
  }

  get image(): string {
    return this.#options.image;
  }

  status(): PoolStatus {
    this.#dropDead();
    return {
      runtime: this.#options.runtime.name,
      size: this.#options.size,
      image: this.#options.image,
      idle: this.#idle.length,
      starting: this.#starting,
      error: this.#error,
    };
  }

  /** Starts filling; returns at once. */
  start(): void {
    this.#refill();
  }

  /** An idle pooled sandbox, or undefined when none is ready (the caller starts one). */
  take(): PreparedSandbox | undefined {
    this.#dropDead();
    const prepared = this.#idle.shift();
    // Refill a moment later, not now: spawning blocks this process's event loop for a few
    // milliseconds, which the run that just claimed a sandbox would otherwise pay for.
    clearTimeout(this.#refillTimer);
    this.#refillTimer = setTimeout(() => this.#refill(), refillDelayMs);
    this.#refillTimer.unref();
    return prepared;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#refillTimer);
    const idle = this.#idle.splice(0);
    await Promise.allSettled(idle.map((prepared) => prepared.discard()));
  }

  #dropDead(): void {
    for (let index = this.#idle.length - 1; index >= 0; index--) {
      const prepared = this.#idle[index];
      if (prepared && !prepared.isAlive()) {
        this.#idle.splice(index, 1);
        void prepared.discard();
      }
    }
  }

  #refill(): void {
    if (this.#closed || this.#retryTimer) return;
    const missing = this.#options.size - this.#idle.length - this.#starting;
    for (let index = 0; index < missing; index++) void this.#addOne();
  }

  async #addOne(): Promise<void> {
    const { runtime, limits } = this.#options;
    this.#starting++;
    try {
      if (!runtime.capabilities.prepare) {
        throw new MagsError(`The ${runtime.name} runtime cannot start sandboxes ahead of time.`, {
          code: 'pool_unsupported',
        });
      }
      const threshold = this.#options.maxHostMemoryPercent ?? 90;
      const used = await (this.#options.hostMemoryPercent ?? hostMemoryPercent)();
      if (used > threshold) {
        throw new MagsError(
          `Host memory use is ${used.toFixed(0)} %, above the pool's ${threshold} % limit.`,
          { code: 'pool_memory' },
        );
      }
      await this.#options.ready();
      const prepare = runtimeOperation(runtime, 'prepare');
      const prepared = await prepare({ id: `pool-${uniqueSuffix()}`, limits });
      if (this.#closed) {
        await prepared.discard();
        return;
      }
      this.#idle.push(prepared);
      this.#error = null;
      this.#backoffMs = 500;
    } catch (error) {
      this.#options.metrics.poolRefillFailures.inc();
      this.#error = error instanceof MagsError ? error.toDisplayString() : String(error);
      // Retry later, backing off: a missing image or a full host does not fix itself at once.
      if (!this.#closed && !this.#retryTimer) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#refill();
        }, this.#backoffMs);
        this.#retryTimer.unref();
        this.#backoffMs = Math.min(this.#backoffMs * 2, maxBackoffMs);
      }
    } finally {
      this.#starting--;
    }
  }
}

/** Memory in use on the host, from /proc/meminfo (MemAvailable counts reclaimable cache). */
export async function hostMemoryPercent(): Promise<number> {
  const text = await readFile('/proc/meminfo', 'utf8');
  const read = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  const total = read('MemTotal');
  return total > 0 ? (100 * (total - read('MemAvailable'))) / total : 0;
}

/**
 * A prepared sandbox attached to `spec`'s layers; undefined when the attach failed for a reason
 * of its own (the caller starts a fresh sandbox). A busy or missing workspace is thrown: a fresh
 * start would fail the same way.
 */
export async function attachPrepared(
  prepared: PreparedSandbox,
  spec: SandboxSpec,
): Promise<Sandbox | undefined> {
  try {
    return await prepared.attach(spec);
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) throw error;
    return undefined;
  }
}
