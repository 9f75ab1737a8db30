import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MagsError, NotFoundError } from '../../errors/mags-error.ts';
import { connectGuest, type GuestTransport } from '../../guest/connect-guest.ts';
import type { GuestClient } from '../../guest/guest-client.ts';
import type { Sandbox, SandboxExit, SandboxInfo } from '../runtime.ts';
import { cgroupLimits } from './cgroup-limits.ts';
import { fileSize } from './egress-log-reader.ts';
import type { ResolvedNamespaceOptions } from './namespace-runtime.ts';
import { namespaceSandboxHandle, type SandboxParts } from './namespace-sandbox-handle.ts';
import {
  agentSocketName,
  egressLogName,
  launcherLogName,
  readRunRecord,
  removeEndedSandbox,
  sandboxInfo,
} from './run-record.ts';
import { isSandboxFrozen, openSandboxCgroup } from './sandbox-cgroup.ts';
import { liveRunOwner, ownerIsGone, waitForProcessExit } from './sweep-leftovers.ts';

/** Running sandboxes of this MAGS_HOME: a run record, and a launcher that is alive. */
export async function listNamespaceSandboxes(
  home: string,
  runtime = 'namespace',
): Promise<SandboxInfo[]> {
  const runRoot = join(home, 'run');
  const ids = await readdir(runRoot).catch(() => [] as string[]);
  const found: SandboxInfo[] = [];
  for (const id of ids) {
    const runDirectory = join(runRoot, id);
    const record = await readRunRecord(runDirectory);
    // The qemu runtime keeps its sandboxes here too (one sweep for both): list only ours.
    if (record && (record.runtime ?? 'namespace') !== runtime) continue;
    if (record && !(await ownerIsGone(runDirectory))) found.push(sandboxInfo(record));
  }
  return found;
}

/**
 * How to reach the agent of a running sandbox of this MAGS_HOME from outside the process that
 * started it: its socket in the run directory. Anything that can carry a byte stream from there
 * (a TCP relay on this host, say) makes it reachable from elsewhere.
 */
export function namespaceGuestTransport(home: string, id: string): GuestTransport {
  return { kind: 'unix', socketPath: join(home, 'run', id, agentSocketName) };
}

/**
 * Connects to a sandbox another process started (a server that was restarted): through the
 * agent's socket in its run directory. Its cgroup is opened as it is; a frozen (sleeping)
 * sandbox is thawed just long enough for the agent to say hello, then frozen again.
 */
export function attachNamespaceSandbox(
  options: ResolvedNamespaceOptions,
  id: string,
): Promise<Sandbox> {
  return attachLaunchedSandbox(options, id, {
    runtime: 'namespace',
    connect: (timeoutMs) =>
      connectGuest(namespaceGuestTransport(options.home, id), { helloTimeoutMs: timeoutMs }),
    handle: namespaceSandboxHandle,
  });
}

/** What differs between the runtimes that share the launcher, for an attach. */
export interface AttachFlavour {
  runtime: string;
  /** Connects to the sandbox's agent and waits for its HELLO. */
  connect(timeoutMs: number): Promise<GuestClient>;
  handle(parts: SandboxParts): Sandbox;
}

export async function attachLaunchedSandbox(
  options: ResolvedNamespaceOptions,
  id: string,
  flavour: AttachFlavour,
): Promise<Sandbox> {
  const runDirectory = join(options.home, 'run', id);
  const record = await readRunRecord(runDirectory);
  // The launcher's start time as its owner file recorded it: a pid reused later never matches.
  const ours = record && (record.runtime ?? 'namespace') === flavour.runtime;
  const launcher = ours && (await liveRunOwner(runDirectory));
  if (!record || !launcher) {
    throw new NotFoundError(`No running sandbox ${id} on this host.`, {
      code: 'sandbox_not_found',
      sandboxId: id,
      hint: 'It ended while no server was there, or it runs on another host.',
    });
  }
  const launcherStarted = launcher.started;
  const cgroup = await openSandboxCgroup(id, options.cgroupRoot);
  const frozen = await isSandboxFrozen(id, options.cgroupRoot);
  if (frozen) await cgroup?.thaw();
  let client: GuestClient;
  try {
    client = await flavour.connect(options.startTimeoutMs);
  } catch (error) {
    throw new MagsError(`Sandbox ${id} is running but its agent does not answer.`, {
      code: 'sandbox_unreachable',
      sandboxId: id,
      cause: error,
      hint: `Stop it (mags stop ${id}) or look at ${join(runDirectory, launcherLogName)}.`,
    });
  } finally {
    if (frozen) {
      await cgroup?.freeze();
      await cgroup?.reclaim();
    }
  }
  let launcherGone = false;
  let cleaning: Promise<SandboxExit> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      // The launcher is not our child: its exit is read off /proc.
      const graceful = await waitForProcessExit(record.launcherPid, launcherStarted, 2000);
      if (!graceful) {
        try {
          process.kill(record.launcherPid, 'SIGKILL');
        } catch {}
        await cgroup?.killAll();
        await waitForProcessExit(record.launcherPid, launcherStarted, 2000);
      }
      launcherGone = true;
      return removeEndedSandbox(cgroup, runDirectory);
    })();
    return cleaning;
  };
  return flavour.handle({
    id,
    labels: record.labels,
    ...(record.workspace ? { workspace: record.workspace } : {}),
    client,
    cgroup,
    baselineProcesses: record.baselineProcesses,
    // What was refused before this process attached was reported to the one before it.
    ...(record.egressAllowList
      ? {
          egressLog: {
            path: join(runDirectory, egressLogName),
            offset: await fileSize(join(runDirectory, egressLogName)),
          },
        }
      : {}),
    ...cgroupLimits(cgroup, record.limits, record.warnings),
    paused: frozen,
    launcherGone: () => launcherGone,
    cleanup,
    release: () => {},
  });
}
