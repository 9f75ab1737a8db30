/**
 * A runtime without isolation, for tests that run as any user: commands are plain child
 * processes (see `fake-sandbox.ts`). It is honest about what it is: it declares no network,
 * terminal or resource-limit capability, and passes only the parts of the runtime contract that
 * need none of those (its test file lists the rest as named skips, with the reason).
 */
import { ConflictError, MagsError } from '../../errors/mags-error.ts';
import type {
  AttachSpec,
  PreparedSandbox,
  ResourceLimits,
  Runtime,
  RuntimeCheck,
  Sandbox,
  SandboxSpec,
} from '../runtime.ts';
import { acquireFakeLayer } from './fake-layers.ts';
import { FakeSandbox } from './fake-sandbox.ts';

export interface FakeRuntime extends Runtime {
  start(spec: SandboxSpec): Promise<FakeSandbox>;
  /** Sandboxes started and not yet stopped. */
  readonly running: ReadonlySet<FakeSandbox>;
  /** Every spec `start` (or a prepared sandbox's attach) was given, oldest first. */
  readonly specs: readonly SandboxSpec[];
}

/** Creating it does no I/O (like every runtime factory). */
export function createFakeRuntime(): FakeRuntime {
  const running = new Set<FakeSandbox>();
  const specs: SandboxSpec[] = [];
  // One writer per lock or any number of readers, as the namespace launcher's flock gives.
  const exclusive = new Map<string, string>();
  const shared = new Map<string, Set<string>>();

  function takeLocks(spec: SandboxSpec): () => void {
    const wanted = { exclusive: spec.locks?.exclusive ?? [], shared: spec.locks?.shared ?? [] };
    const busy =
      wanted.exclusive.some((path) => exclusive.has(path) || (shared.get(path)?.size ?? 0) > 0) ||
      wanted.shared.some((path) => exclusive.has(path));
    if (busy) {
      throw new ConflictError('The workspace is in use by another run.', { sandboxId: spec.id });
    }
    for (const path of wanted.exclusive) exclusive.set(path, spec.id);
    for (const path of wanted.shared) {
      const holders = shared.get(path) ?? new Set<string>();
      holders.add(spec.id);
      shared.set(path, holders);
    }
    return () => {
      for (const path of wanted.exclusive) exclusive.delete(path);
      for (const path of wanted.shared) shared.get(path)?.delete(spec.id);
    };
  }

  async function start(spec: SandboxSpec): Promise<FakeSandbox> {
    const releaseLocks = takeLocks(spec);
    try {
      const layer = await acquireFakeLayer(spec.rootfs);
      specs.push(spec);
      const sandbox: FakeSandbox = new FakeSandbox({
        id: spec.id,
        layer,
        onStop: () => {
          releaseLocks();
          running.delete(sandbox);
        },
      });
      running.add(sandbox);
      return sandbox;
    } catch (error) {
      releaseLocks();
      throw error;
    }
  }

  return {
    specificationVersion: 'runtime-v1',
    name: 'fake',
    capabilities: {
      network: false,
      tty: false,
      resourceLimits: false,
      pause: true,
      prepare: true,
    },
    running,
    specs,
    async check(): Promise<RuntimeCheck> {
      return {
        ok: true,
        problems: [],
        warnings: ['the fake runtime isolates nothing: for tests only'],
      };
    },
    start,
    async prepare(options: { id: string; limits: ResourceLimits }): Promise<PreparedSandbox> {
      let state: 'idle' | 'attached' | 'discarded' = 'idle';
      return {
        id: options.id,
        isAlive: () => state === 'idle',
        async attach(spec: AttachSpec): Promise<Sandbox> {
          if (state !== 'idle') {
            throw new MagsError(`Prepared sandbox ${options.id} is ${state}.`, {
              code: 'sandbox_start_failed',
              sandboxId: options.id,
            });
          }
          const sandbox = await start({ ...spec, id: options.id });
          state = 'attached';
          return sandbox;
        },
        async discard() {
          if (state === 'idle') state = 'discarded';
        },
      };
    },
  };
}
