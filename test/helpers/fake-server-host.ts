/**
 * Server restarts without root or real processes: one host (a fake runtime and a state
 * database, test-context.ts) and, over time, several "server processes" on it, each the objects
 * `startServer` wires (job and sandbox managers, scheduler) with its own server id, started by
 * recovering the work of the gone ones (`recoverWork`, as startServer does). A server `kill`ed
 * lets go of everything the way a killed process's connections close: nothing it does is
 * recorded any more, it writes and starts nothing, and every sandbox handle it held is detached,
 * so its sandboxes and their durable commands run on in the runtime object for the next server
 * to find.
 *
 * Liveness is the real check (`serverIsAlive`, /proc): a server named here (`server-1`, ...) is
 * dead to every other one, whether killed or not, so tests kill a server before starting the
 * next; `currentServerInstance()` (this very process) is the one id that is alive.
 */
import { join } from 'node:path';
import { after } from 'node:test';
import { currentServerInstance, type ServerInstance } from '../../src/config/server-instance.ts';
import type { MagsContext } from '../../src/context/mags-context.ts';
import { JobManager } from '../../src/jobs/job-manager.ts';
import type { JobManagerOptions } from '../../src/jobs/job-manager-options.ts';
import type { FakeRuntime } from '../../src/runtimes/fake/fake-runtime.ts';
import { runtimeOperation, sandboxOperation } from '../../src/runtimes/require-capability.ts';
import type { Runtime, Sandbox } from '../../src/runtimes/runtime.ts';
import { SandboxManager } from '../../src/sandboxes/sandbox-manager.ts';
import { SandboxScheduler } from '../../src/scheduling/sandbox-scheduler.ts';
import { type RecoveryReport, recoverWork } from '../../src/server/recover-work.ts';
import { createSqliteStateRepository } from '../../src/state/sqlite/sqlite-state-repository.ts';
import type { StateRepository } from '../../src/state/state-repository.ts';
import { waitUntil } from './server-process.ts';
import { createTestContext, type FakeTestContext } from './test-context.ts';

export interface FakeServer {
  instance: ServerInstance;
  context: MagsContext;
  repository: StateRepository;
  jobs: JobManager;
  sandboxes: SandboxManager;
  scheduler: SandboxScheduler;
  /** What its start recovered of the gone servers' work. */
  report: RecoveryReport;
  /** What its recovery logged. */
  logged: string[];
  /**
   * Dies: from now on nothing of its work is recorded, then (after `meanwhile`, which runs in
   * between: a command may end there, its end received but never recorded) every sandbox handle
   * it holds lets go. Its sandboxes and their durable commands run on.
   */
  kill(meanwhile?: () => Promise<void>): Promise<void>;
}

export interface FakeServerOptions {
  /** Its id (default `server-N`); `currentServerInstance().server` for one that is alive. */
  server?: string;
  /** Long-lived sandboxes freeze after this long idle (default: never). */
  sleepAfterMs?: number;
  jobs?: Partial<JobManagerOptions>;
}

export const sh = (script: string) => ['/bin/sh', '-c', script];

/** A shell loop waiting for a file of the host (a fake sandbox's commands see the host's files). */
export const waitForFile = (path: string) => `while [ ! -e ${path} ]; do sleep 0.01; done`;

/** A job's stored output, per stream. */
export async function jobOutput(server: FakeServer, owner: string, id: string) {
  const streams = { stdout: '', stderr: '' };
  for await (const chunk of server.jobs.readLog(owner, id, { offset: 0, follow: false })) {
    streams[chunk.stream] += chunk.data.toString();
  }
  return streams;
}

/** Until more than `bytes` of the job's output are stored. */
export const storedBeyond = (server: FakeServer, owner: string, id: string, bytes = 0) =>
  waitUntil(async () => (await server.jobs.get(owner, id)).logBytes > bytes, 10_000);

/** Makes hosts for the tests of a file and cleans them all up after them. */
export function fakeServerHosts(): () => Promise<FakeServerHost> {
  const hosts: FakeServerHost[] = [];
  after(() => Promise.all(hosts.map((host) => host.cleanup())));
  return async () => {
    const host = await FakeServerHost.create();
    hosts.push(host);
    return host;
  };
}

/** A host: one fake runtime and state database, on which servers start, die and restart. */
export class FakeServerHost {
  readonly fake: FakeTestContext;
  readonly host = currentServerInstance().host;
  readonly servers: FakeServer[] = [];

  private constructor(fake: FakeTestContext) {
    this.fake = fake;
  }

  static async create(): Promise<FakeServerHost> {
    return new FakeServerHost(await createTestContext());
  }

  get runtime(): FakeRuntime {
    return this.fake.runtime;
  }

  async start(options: FakeServerOptions = {}): Promise<FakeServer> {
    const instance = {
      host: this.host,
      server: options.server ?? `server-${this.servers.length + 1}`,
    };
    const gone = { dead: false };
    const repository = deadOnceGone(
      createSqliteStateRepository(join(this.fake.home, 'state.db')),
      gone,
    );
    const { runtime, handles } = trackedRuntime(this.fake.runtime, gone, instance.server);
    const scheduler = new SandboxScheduler({
      runtime,
      pool: {
        size: 0,
        image: this.fake.context.defaults.image,
        limits: this.fake.context.defaults.limits,
        ready: async () => {},
      },
      warm: { ttlMs: 60_000, maxCount: 16, maxMemoryBytes: 1024 ** 3 },
    });
    // Its own: the runtime seen through its handles, and its scheduler (the stores are the host's).
    const context: MagsContext = {
      ...this.fake.context,
      runtime,
      runtimes: { [runtime.name]: runtime },
      scheduler,
    };
    const sandboxes = new SandboxManager({
      context,
      repository,
      sleepAfterMs: options.sleepAfterMs ?? 0,
      instance,
    });
    const jobs = new JobManager({
      context,
      repository,
      killGraceMs: 100,
      instance,
      ...options.jobs,
    });
    const logged: string[] = [];
    const report = await recoverWork({
      context,
      repository,
      jobs,
      sandboxes,
      instance,
      log: (line) => logged.push(line),
    });
    scheduler.open();
    const server: FakeServer = {
      instance,
      context,
      repository,
      jobs,
      sandboxes,
      scheduler,
      report,
      logged,
      async kill(meanwhile) {
        // What its jobs had read so far is stored; from now on none of their ends is recorded.
        await jobs.detach();
        await meanwhile?.();
        // Dead: it writes nothing more (what its jobs read since is lost, as a killed process's
        // last unsaved batch is) and starts nothing (a queued job it would have let go is not).
        gone.dead = true;
        await sandboxes.detach();
        await scheduler.detach();
        // The connections a dead process held besides: the sandboxes of its runs.
        for (const sandbox of handles) {
          if (sandbox.isRunning()) await sandboxOperation(runtime, sandbox, 'detach')();
        }
      },
    };
    this.servers.push(server);
    return server;
  }

  /** Stops what still runs (live servers first), closes every state connection, removes the home. */
  async cleanup(): Promise<void> {
    for (const server of this.servers) {
      await server.jobs.shutdown().catch(() => {});
      await server.sandboxes.shutdown().catch(() => {});
      await server.scheduler.close().catch(() => {});
    }
    await this.fake.cleanup();
    for (const server of this.servers) await server.repository.close();
  }
}

/**
 * The runtime as one server process sees it: the same sandboxes, through handles it keeps
 * track of (a process's connections, which all close when it dies).
 */
function trackedRuntime(
  fake: FakeRuntime,
  gone: { dead: boolean },
  server: string,
): { runtime: Runtime; handles: Set<Sandbox> } {
  const handles = new Set<Sandbox>();
  const track = <Held extends Sandbox>(sandbox: Held): Held => {
    handles.add(sandbox);
    return sandbox;
  };
  const alive = () => {
    if (gone.dead) throw new Error(`${server} is dead: it starts and attaches nothing`);
  };
  const prepare = runtimeOperation(fake, 'prepare');
  const runtime: Runtime = {
    ...fake,
    start: async (spec) => {
      alive();
      return track(await fake.start(spec));
    },
    attach: async (id) => {
      alive();
      return track(await fake.attach(id));
    },
    prepare: async (options) => {
      alive();
      const prepared = await prepare(options);
      return {
        id: prepared.id,
        isAlive: () => prepared.isAlive(),
        attach: async (spec) => {
          alive();
          return track(await prepared.attach(spec));
        },
        discard: () => prepared.discard(),
      };
    },
  };
  return { runtime, handles };
}

/** What a repository call changes: nothing, once its server is dead. */
const writes = new Set<string | symbol>([
  'insertToken',
  'revokeToken',
  'insertJob',
  'updateJob',
  'appendLog',
  'removeLogs',
  'deleteJob',
  'upsertSandbox',
  'deleteSandbox',
  'touchWorkspace',
  'deleteWorkspace',
  'recoverInterrupted',
  'takeOverServer',
]);

/**
 * The server's state connection: its writes are dropped once it is dead (what its leftover
 * callbacks in this process would still write, a killed process never does). Reads go on: a
 * test looks at the database through it.
 */
function deadOnceGone(repository: StateRepository, gone: { dead: boolean }): StateRepository {
  return new Proxy(repository, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (writes.has(property)) {
        return (...args: unknown[]) =>
          gone.dead ? Promise.resolve(undefined) : value.apply(target, args);
      }
      return value.bind(target);
    },
  });
}
