/**
 * A runtime without isolation, for tests that run as any user: commands are plain child
 * processes (see `fake-sandbox.ts`), `/workspace` a directory per workspace name found through
 * the same stores as the namespace runtime (`fake-layers.ts`). It is honest about what it is: it
 * declares no network, terminal, resource-limit, setLimits or sweep capability, and passes only
 * the parts of the runtime contract that need none of those (its test file lists the rest as
 * named skips, with the reason). Its sandboxes outlive the server objects that started them
 * (capability reattach) for as long as the runtime object lives: a second "server" (job and
 * sandbox managers, scheduler) on the same runtime lists and attaches them again, and resumes
 * their durable execs, as a restarted server process does with namespace sandboxes.
 */
import { ConflictError, MagsError, NotFoundError } from '../../errors/mags-error.ts';
import type {
  AttachSpec,
  PreparedSandbox,
  ResourceLimits,
  Runtime,
  RuntimeCheck,
  Sandbox,
  SandboxInfo,
  SandboxSpec,
} from '../runtime.ts';
import { acquireFakeLayer, type FakeLayerStores } from './fake-layers.ts';
import { FakeSandbox } from './fake-sandbox.ts';
import { FakeSandboxState } from './fake-sandbox-state.ts';

export interface FakeRuntime extends Runtime {
  start(spec: SandboxSpec): Promise<FakeSandbox>;
  attach(id: string): Promise<FakeSandbox>;
  list(): Promise<SandboxInfo[]>;
  /** Handles on sandboxes not yet stopped, but for those detached (their sandboxes run on). */
  readonly running: ReadonlySet<FakeSandbox>;
  /** Every spec `start` (or a prepared sandbox's attach) was given, oldest first. */
  readonly specs: readonly SandboxSpec[];
  /** Stops every sandbox, held or detached (what a host shutdown does; for test cleanup). */
  stopAll(): Promise<void>;
}

/** Creating it does no I/O (like every runtime factory). */
export function createFakeRuntime(
  options: {
    stores?: FakeLayerStores;
    /** Default `fake`; tests of runtime selection make two under different names. */
    name?: string;
    /** Capabilities to turn off (a runtime without `prepare`, say); they cannot be turned on. */
    without?: ('prepare' | 'pause' | 'reattach')[];
  } = {},
): FakeRuntime {
  const stores = options.stores ?? {};
  const running = new Set<FakeSandbox>();
  // Every sandbox not yet stopped, with the handles on it: they outlive their handles.
  const sandboxes = new Map<string, { state: FakeSandboxState; handles: Set<FakeSandbox> }>();
  const specs: SandboxSpec[] = [];
  // Per workspace name, one writer or any number of readers, as the namespace launcher's flock
  // gives; a stored version is immutable and takes no lock.
  const writers = new Map<string, string>();
  const readers = new Map<string, Set<string>>();

  function takeLock(spec: SandboxSpec): () => void {
    const workspace = spec.workspace;
    if (workspace === undefined || workspace.version !== undefined) return () => {};
    const { name } = workspace;
    const writes = workspace.access === 'writable';
    const busy = writers.has(name) || (writes && (readers.get(name)?.size ?? 0) > 0);
    if (busy) {
      throw new ConflictError('The workspace is in use by another run.', {
        sandboxId: spec.id,
        hint: 'Wait for the other run to finish, or run read-only on top of it with --base NAME.',
      });
    }
    if (writes) {
      writers.set(name, spec.id);
      return () => writers.delete(name);
    }
    const holders = readers.get(name) ?? new Set<string>();
    holders.add(spec.id);
    readers.set(name, holders);
    return () => holders.delete(spec.id);
  }

  /** A new handle on a running sandbox. */
  function connect(entry: { state: FakeSandboxState; handles: Set<FakeSandbox> }): FakeSandbox {
    const sandbox: FakeSandbox = new FakeSandbox({
      state: entry.state,
      onDetach: () => {
        entry.handles.delete(sandbox);
        running.delete(sandbox);
      },
    });
    entry.handles.add(sandbox);
    running.add(sandbox);
    return sandbox;
  }

  async function start(spec: SandboxSpec): Promise<FakeSandbox> {
    const releaseLock = takeLock(spec);
    try {
      const layer = await acquireFakeLayer(stores, spec);
      specs.push(spec);
      const entry = {
        state: new FakeSandboxState({
          id: spec.id,
          workspace: spec.workspace,
          labels: spec.labels ?? {},
          layer,
          onStop: () => {
            releaseLock();
            if (sandboxes.get(spec.id) === entry) sandboxes.delete(spec.id);
            for (const handle of entry.handles) running.delete(handle);
          },
        }),
        handles: new Set<FakeSandbox>(),
      };
      sandboxes.set(spec.id, entry);
      return connect(entry);
    } catch (error) {
      releaseLock();
      throw error;
    }
  }

  return {
    specificationVersion: 'runtime-v2',
    name: options.name ?? 'fake',
    capabilities: {
      network: false,
      tty: false,
      resourceLimits: false,
      // Limits are not enforced at all, so changing them would be a no-op passed off as done.
      setLimits: false,
      pause: true,
      prepare: true,
      // Its sandboxes outlive the handles (servers) that started them, not the process.
      reattach: true,
      // Nothing outlives the process but temp directories, which are removed on stop.
      sweep: false,
      egressAllowList: false,
      ports: false,
      // Its sandboxes write into the workspace directory itself.
      wholeFilesystemPersists: true,
      ...Object.fromEntries((options.without ?? []).map((capability) => [capability, false])),
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
    async list(): Promise<SandboxInfo[]> {
      return [...sandboxes.values()]
        .filter(({ state }) => state.running)
        .map(({ state }) => state.info());
    },
    async attach(id: string): Promise<FakeSandbox> {
      const entry = sandboxes.get(id);
      if (!entry?.state.running) {
        throw new NotFoundError(`No running sandbox ${id} on this host.`, {
          code: 'sandbox_not_found',
          sandboxId: id,
          hint: 'It was stopped, or it was started by another fake runtime object.',
        });
      }
      return connect(entry);
    },
    async stopAll() {
      await Promise.allSettled([...sandboxes.values()].map(({ state }) => state.stop()));
    },
    async prepare(prepareOptions: {
      id: string;
      limits: ResourceLimits;
    }): Promise<PreparedSandbox> {
      let state: 'idle' | 'attached' | 'discarded' = 'idle';
      return {
        id: prepareOptions.id,
        isAlive: () => state === 'idle',
        async attach(spec: AttachSpec): Promise<Sandbox> {
          if (state !== 'idle') {
            throw new MagsError(`Prepared sandbox ${prepareOptions.id} is ${state}.`, {
              code: 'sandbox_start_failed',
              sandboxId: prepareOptions.id,
            });
          }
          const sandbox = await start({ ...spec, id: prepareOptions.id });
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
