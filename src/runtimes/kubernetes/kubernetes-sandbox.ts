import { MagsError } from '../../errors/mags-error.ts';
import type { GuestClient } from '../../guest/guest-client.ts';
import { readGuestCgroupUsage } from '../guest-cgroup-usage.ts';
import type { Sandbox, SandboxExit, SandboxUsage, WorkspaceReference } from '../runtime.ts';
import { resumableExec } from './resumable-exec.ts';

/** What a running pod sandbox is made of. */
export interface KubernetesSandboxParts {
  id: string;
  labels: Record<string, string>;
  workspace?: WorkspaceReference;
  client: GuestClient;
  warnings: string[];
  /** A writable workspace: copies the pod's `/workspace` back to this host (before a stop). */
  syncBack: ((client: GuestClient) => Promise<void>) | undefined;
  /**
   * After the exec stream dropped: a new connection to the pod's agent when the pod still runs,
   * undefined when it is gone or failed (only then is the sandbox over). Throws when the API
   * cannot say (it is tried again).
   */
  reconnect(): Promise<GuestClient | undefined>;
  /** Deletes the pod and its NetworkPolicy (after the agent was told to shut down). */
  remove(): Promise<void>;
  /** Lets go of this process's hold on the workspace (a detach). */
  release(): Promise<void>;
}

/** How long a stop waits for the agent to end its commands before the pod is deleted anyway. */
const shutdownGraceMs = 2000;
/** How long a dropped stream is retried while the API server cannot be asked (a restart). */
const reconnectForMs = 60_000;
const reconnectPauseMs = 1000;
/** How long the pod gets to answer a usage read. */
const usageTimeoutMs = 2000;
/** The container's cgroup as the container sees it (cgroup v2 with a cgroup namespace). */
const podCgroup = '/sys/fs/cgroup';
/** Processes of an idle pod besides the agent and the reading `cat`: this connection's relay. */
const relayProcesses = 1;

/**
 * A sandbox in a pod: every request goes to the pod's agent over the exec stream. Usage is read
 * from the container's own cgroup through the agent (the kubelet's figures would need the metrics
 * API); a stop ends the agent (PID 1: everything in the pod ends), then deletes the pod. A detach
 * closes the stream only: the pod and its durable execs run on for `Runtime.attach`.
 */
export function kubernetesSandbox(parts: KubernetesSandboxParts): Sandbox {
  let client = parts.client;
  /** The pod is gone or failed: the sandbox is over (a dropped stream alone is not). */
  let agentGone = false;
  let stopping: Promise<SandboxExit> | undefined;
  let detached = false;
  /** A reconnection under way after the stream dropped. */
  let reconnecting: Promise<GuestClient | undefined> | undefined;
  const reconnect = async (): Promise<GuestClient | undefined> => {
    const deadline = Date.now() + reconnectForMs;
    for (;;) {
      try {
        const again = await parts.reconnect();
        if (!again) agentGone = true;
        return again;
      } catch (error) {
        if (Date.now() >= deadline) {
          agentGone = true;
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, reconnectPauseMs));
      }
    }
  };
  /** Starts connecting again after `connection` closed, once (it may be asked twice). */
  const replace = (connection: GuestClient) => {
    // Closed by this handle (a stop or a detach), or already replaced: nothing was lost.
    if (connection !== client || stopping || detached || reconnecting) return;
    reconnecting = reconnect()
      .catch(() => undefined)
      .then((again) => {
        // A stop waiting for this connection uses it (to copy /workspace back); a detach not.
        if (again && !detached) {
          client = again;
          void again.closed.then(() => replace(again));
        } else again?.close();
        reconnecting = undefined;
        return again;
      });
  };
  void client.closed.then(() => replace(parts.client));
  /**
   * For a durable exec whose connection `closed`: the next one, or none when the pod is gone or
   * this handle is done (a detach or stop). Its exec may hear of the loss before `closed` fires.
   */
  const reconnectedForExec = async (closed: GuestClient): Promise<GuestClient | undefined> => {
    replace(closed);
    if (reconnecting) await reconnecting;
    return agentGone || detached || stopping || client === closed ? undefined : client;
  };
  /** The connection to use once a dropped stream is replaced; undefined when the pod is gone. */
  const connected = async (): Promise<GuestClient | undefined> => {
    if (reconnecting) await reconnecting;
    return agentGone ? undefined : client;
  };
  const usage = async (): Promise<SandboxUsage> => {
    const unknown = {
      oomKills: 0,
      peakMemoryBytes: undefined,
      memoryBytes: undefined,
      processes: undefined,
    };
    if (agentGone || reconnecting) return unknown;
    const read = await readGuestCgroupUsage(
      (request) => client.exec(request),
      podCgroup,
      usageTimeoutMs,
    );
    const figures = read && {
      ...read,
      processes:
        read.processes === undefined ? undefined : Math.max(0, read.processes - relayProcesses),
    };
    // A writable workspace is copied back when the sandbox stops, so such a sandbox is never
    // parked (a sandbox whose processes are unknown is not): the next run, on any runtime,
    // must find what this one wrote.
    if (figures && parts.syncBack) return { ...figures, processes: undefined };
    return figures ?? unknown;
  };
  return {
    id: parts.id,
    labels: parts.labels,
    ...(parts.workspace ? { workspace: parts.workspace } : {}),
    warnings: parts.warnings,
    exec: (request) =>
      request.key
        ? resumableExec(client, request.key, reconnectedForExec, request)
        : client.exec(request),
    writeFile: (path, data, options) => client.writeFile(path, data, options),
    readFileStream: (path, options) => client.readFileStream(path, options),
    readFile: (path, options) => client.readFile(path, options),
    openPort: (port) => client.openPort(port),
    usage,
    isRunning: () => !agentGone && stopping === undefined && !detached,
    resumeExec: (key, offsets) => client.resume(key, offsets),
    listExecs: () => client.listExecs(),
    forgetExec: (key) => client.forget(key),
    async detach() {
      if (detached || stopping) return;
      detached = true;
      client.close();
      await client.closed;
      await parts.release();
    },
    stop() {
      // Another process holds it now (or will): stopping it is no longer this handle's to do.
      if (detached && !stopping) {
        return Promise.resolve({ oomKills: 0, peakMemoryBytes: undefined });
      }
      stopping ??= (async () => {
        // The workspace first, while the pod is whole; a failed copy still ends the pod. A
        // dropped stream is connected again first: a running pod's /workspace is never lost.
        const live = await connected();
        let synced: unknown;
        if (parts.syncBack && !live) {
          synced = new MagsError(
            `The pod of sandbox ${parts.id} ended before its /workspace was copied back: this run's changes to workspace ${parts.workspace?.name} are lost.`,
            {
              code: 'workspace_sync_failed',
              sandboxId: parts.id,
              workspace: parts.workspace?.name,
            },
          );
        } else if (parts.syncBack && live) {
          synced = await parts.syncBack(live).catch((error: unknown) => error);
        }
        const last = await usage();
        let grace: NodeJS.Timeout | undefined;
        await Promise.race([
          client.shutdown().catch(() => {}),
          new Promise((resolve) => {
            grace = setTimeout(resolve, shutdownGraceMs);
          }),
        ]);
        clearTimeout(grace);
        client.close();
        await parts.remove();
        if (synced) throw synced;
        return { oomKills: last.oomKills, peakMemoryBytes: last.peakMemoryBytes };
      })();
      return stopping;
    },
  };
}
