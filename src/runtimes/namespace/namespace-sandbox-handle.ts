import { CapabilityUnsupportedError } from '../../errors/mags-error.ts';
import type { GuestClient } from '../../guest/guest-client.ts';
import type { ResourceLimits, Sandbox, SandboxExit, WorkspaceReference } from '../runtime.ts';
import { EgressLogReader } from './egress-log-reader.ts';
import type { SandboxCgroup } from './sandbox-cgroup.ts';

/** What a running namespace sandbox is made of, whether this process started it or attached. */
export interface SandboxParts {
  id: string;
  labels: Record<string, string>;
  workspace?: WorkspaceReference;
  client: GuestClient;
  cgroup: SandboxCgroup | undefined;
  /** Processes an idle sandbox counts (launcher, agent, maybe slirp4netns and the egress keeper). */
  baselineProcesses: number | undefined;
  /**
   * With an egress allow-list: the keeper's log of refusals, and how much of it was reported
   * already. Without one, the sandbox has no `egressBlocked` (nothing to poll for).
   */
  egressLog?: { path: string; offset: number };
  warnings(): string[];
  setLimits(limits: ResourceLimits): Promise<string[]>;
  /** Frozen when attached (a sleeping sandbox stays asleep). */
  paused: boolean;
  /** True once the launcher has exited. */
  launcherGone(): boolean;
  /** After the agent was told to shut down: waits for the launcher, removes what is left. */
  cleanup(): Promise<SandboxExit>;
  /** Lets go of this process's hold on the launcher (it runs on). */
  release(): void;
}

/** How long a stop waits for the agent to act on SHUTDOWN before the cgroup is killed. */
const shutdownGraceMs = 2000;

export function namespaceSandboxHandle(parts: SandboxParts): Sandbox {
  const { client, cgroup } = parts;
  // The agent's stream closes as soon as the agent dies; the launcher exits only once the
  // kernel has torn the sandbox down (which can take a while: overlayfs syncs on unmount).
  let agentGone = false;
  void client.closed.then(() => {
    agentGone = true;
  });
  let paused = parts.paused;
  let detached = false;
  const awake = async () => {
    if (!paused) return;
    paused = false;
    await cgroup?.thaw();
  };
  let stopping: Promise<SandboxExit> | undefined;
  const egressLog =
    parts.egressLog && new EgressLogReader(parts.egressLog.path, parts.egressLog.offset);
  return {
    id: parts.id,
    labels: parts.labels,
    ...(parts.workspace ? { workspace: parts.workspace } : {}),
    get warnings() {
      return parts.warnings();
    },
    exec: (request) => {
      // A frozen agent reads the request once thawed: the socket holds it until then.
      if (paused) awake().catch(() => {});
      return client.exec(request);
    },
    resumeExec: (key, offsets) => {
      if (paused) awake().catch(() => {});
      return client.resume(key, offsets);
    },
    listExecs: async () => {
      await awake();
      return client.listExecs();
    },
    forgetExec: async (key) => {
      await awake();
      return client.forget(key);
    },
    writeFile: async (path, data, writeOptions) => {
      await awake();
      return client.writeFile(path, data, writeOptions);
    },
    readFileStream: async (path, readOptions) => {
      await awake();
      return client.readFileStream(path, readOptions);
    },
    readFile: async (path, readOptions) => {
      await awake();
      return client.readFile(path, readOptions);
    },
    openPort: async (port) => {
      await awake();
      return client.openPort(port);
    },
    async usage() {
      const [processes, oomKills, peakMemoryBytes, memoryBytes] = await Promise.all([
        cgroup?.processCount(),
        cgroup?.oomKillCount(),
        cgroup?.peakMemoryBytes(),
        cgroup?.memoryBytes(),
      ]);
      const baseline = parts.baselineProcesses;
      return {
        oomKills: oomKills ?? 0,
        peakMemoryBytes,
        memoryBytes,
        processes:
          processes === undefined || baseline === undefined
            ? undefined
            : Math.max(0, processes - baseline),
      };
    },
    ...(egressLog ? { egressBlocked: () => egressLog.read() } : {}),
    isRunning: () => !parts.launcherGone() && !agentGone && stopping === undefined && !detached,
    setLimits: parts.setLimits,
    async pause() {
      if (paused) return;
      if (!(await cgroup?.freeze())) {
        throw new CapabilityUnsupportedError('namespace', 'pause', {
          reason: 'this host has no cgroup freezer',
        });
      }
      paused = true;
      await cgroup?.reclaim();
    },
    resume: awake,
    stop() {
      // Another process holds it now (or will): stopping it is no longer this handle's to do.
      if (detached && !stopping)
        return Promise.resolve({ oomKills: 0, peakMemoryBytes: undefined });
      stopping ??= (async () => {
        // A frozen sandbox cannot act on SHUTDOWN; thaw it so it can end itself.
        await awake();
        // SHUTDOWN ends the agent (PID 1), and with it every process inside. The sandbox no
        // longer ends with this connection: it outlives the process that holds it.
        await Promise.race([
          client.shutdown(),
          new Promise((resolve) => setTimeout(resolve, shutdownGraceMs).unref()),
        ]);
        client.close();
        return parts.cleanup();
      })();
      return stopping;
    },
    async detach() {
      if (detached || stopping) return;
      detached = true;
      client.close();
      await client.closed;
      parts.release();
    },
  };
}
