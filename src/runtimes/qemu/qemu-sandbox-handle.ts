import { readGuestCgroupUsage } from '../guest-cgroup-usage.ts';
import {
  namespaceSandboxHandle,
  type SandboxParts,
} from '../namespace/namespace-sandbox-handle.ts';
import type { Sandbox, SandboxExit, SandboxUsage } from '../runtime.ts';

/** The guest's sandbox cgroup (native/vm-init.c): the agent and everything it starts. */
const guestCgroup = '/sys/fs/cgroup/sandbox';

/** How long the guest gets to answer a usage read before the host's figures stand in. */
const guestUsageTimeoutMs = 2_000;

/**
 * A qemu sandbox: the launcher's parts are the namespace runtime's (cgroup, freezer, stop). Its
 * memory is the host cgroup's, which holds QEMU: guest RAM touched plus the monitor's own, what
 * the host pays for the VM and what the warm cache's memory budget must count. Its processes and
 * OOM kills are the guest kernel's, read from the guest's cgroup through the agent; the host
 * cgroup's OOM kills (the host killed QEMU itself) are added to them.
 */
export function qemuSandboxHandle(parts: SandboxParts): Sandbox {
  const inner = namespaceSandboxHandle(parts);
  /** The guest cgroup's figures, or undefined when the guest did not answer in time. */
  const guestUsage = async (): Promise<SandboxUsage | undefined> => {
    const figures = await readGuestCgroupUsage(inner.exec, guestCgroup, guestUsageTimeoutMs);
    return figures?.processes === undefined ? undefined : figures;
  };
  return {
    id: inner.id,
    labels: inner.labels,
    ...(inner.workspace ? { workspace: inner.workspace } : {}),
    get warnings() {
      return inner.warnings;
    },
    exec: inner.exec,
    writeFile: inner.writeFile,
    readFileStream: inner.readFileStream,
    readFile: inner.readFile,
    openPort: inner.openPort,
    async usage(): Promise<SandboxUsage> {
      const [host, guest] = await Promise.all([inner.usage(), guestUsage()]);
      return {
        memoryBytes: host.memoryBytes,
        peakMemoryBytes: host.peakMemoryBytes,
        oomKills: host.oomKills + (guest?.oomKills ?? 0),
        // Without the guest's answer the count is unknown (the host cgroup's are QEMU's
        // threads), and a sandbox whose processes are unknown is never parked.
        processes: guest?.processes,
      };
    },
    isRunning: inner.isRunning,
    // The launcher's egress keeper filters QEMU's user-mode network as a namespace sandbox's.
    ...(inner.egressBlocked ? { egressBlocked: inner.egressBlocked } : {}),
    async stop(): Promise<SandboxExit> {
      // The guest's own OOM kills are the sandbox's; QEMU's cgroup adds one when the host killed
      // the monitor itself.
      const guest = inner.isRunning() ? await guestUsage() : undefined;
      const exit = await inner.stop();
      return {
        oomKills: exit.oomKills + (guest?.oomKills ?? 0),
        peakMemoryBytes: exit.peakMemoryBytes,
      };
    },
    // The host's freezer stops QEMU's threads, and with them the whole guest.
    pause: inner.pause,
    resume: inner.resume,
    // QEMU keeps the agent's port; the agent keeps durable execs for the next host (--port).
    detach: inner.detach,
    resumeExec: inner.resumeExec,
    listExecs: inner.listExecs,
    forgetExec: inner.forgetExec,
  };
}
