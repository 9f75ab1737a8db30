import { uniqueSuffix } from '../config/unique-suffix.ts';
import { runtimeOperation } from '../runtimes/require-capability.ts';
import type {
  PreparedSandbox,
  ResourceLimits,
  Runtime,
  Sandbox,
  SandboxSpec,
} from '../runtimes/runtime.ts';
import { attachPrepared } from './sandbox-pool.ts';

/**
 * One sandbox prepared ahead of the one run a process makes (`mags run` with no server): its
 * launcher sets up namespaces while the CLI loads the job system and records the job, and the
 * run then attaches its layers. A pool of one that never refills; unused, it is discarded. A
 * runtime without `prepare` gets no head start: the run starts its own sandbox.
 */
export class HeadStart {
  /** The runtime it prepares on (`startOrExplain` uses it only for a run on that runtime). */
  readonly runtime: Runtime;
  readonly #image: string;
  #prepared: Promise<PreparedSandbox | undefined> | undefined;

  constructor(options: { runtime: Runtime; image: string; limits: ResourceLimits }) {
    this.runtime = options.runtime;
    this.#image = options.image;
    if (!options.runtime.capabilities.prepare) return;
    const prepare = runtimeOperation(options.runtime, 'prepare');
    // A failed prepare is not this run's failure: the run's own start reports what is wrong.
    this.#prepared = prepare({ id: `run-${uniqueSuffix()}`, limits: options.limits }).catch(
      () => undefined,
    );
  }

  /**
   * Settles once the sandbox's launcher is spawned. Work that keeps this process busy (loading
   * modules) should wait for it: the prepare's own steps would otherwise wait for that work.
   */
  async spawned(): Promise<void> {
    await this.#prepared;
  }

  /** The run's sandbox: the prepared one attached to the spec's layers when it fits, else new. */
  async start(spec: SandboxSpec): Promise<Sandbox> {
    const prepared = spec.image.name === this.#image ? await this.#take() : undefined;
    if (prepared?.isAlive()) {
      const sandbox = await attachPrepared(prepared, spec);
      if (sandbox) return sandbox;
    } else {
      await prepared?.discard();
    }
    return this.runtime.start(spec);
  }

  /** Discards the prepared sandbox if no run took it. */
  async close(): Promise<void> {
    await (await this.#take())?.discard();
  }

  #take(): Promise<PreparedSandbox | undefined> {
    const prepared = this.#prepared ?? Promise.resolve(undefined);
    this.#prepared = undefined;
    return prepared;
  }
}
