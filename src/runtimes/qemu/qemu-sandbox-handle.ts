import type { Readable } from 'node:stream';
import {
  namespaceSandboxHandle,
  type SandboxParts,
} from '../namespace/namespace-sandbox-handle.ts';
import type { Sandbox, SandboxExit, SandboxProcess, SandboxUsage } from '../runtime.ts';

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
    let process: SandboxProcess | undefined;
    let timer: NodeJS.Timeout | undefined;
    const read = async () => {
      // Pseudo-files have no size, so the agent's file reads (which stream st_size bytes) cannot
      // carry them: one `cat` reads them all, and is itself one of the processes it lists.
      process = inner.exec({
        argv: [
          '/bin/cat',
          `${guestCgroup}/cgroup.procs`,
          `${guestCgroup}/memory.events`,
          `${guestCgroup}/memory.current`,
          `${guestCgroup}/memory.peak`,
        ],
        env: {},
        cwd: '/',
      });
      const [text] = await Promise.all([readAll(process.stdout), readAll(process.stderr)]);
      await process.exited;
      // A file `cat` could not read is missing from the text, and its figure from the result.
      const figures = parseGuestUsage(text);
      return figures.processes === undefined ? undefined : figures;
    };
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), guestUsageTimeoutMs);
    });
    try {
      // A hung guest, an image without /bin/cat or a QEMU the host killed must not hold up (or
      // fail) the end of a run: stop() is also the timeout path.
      const figures = await Promise.race([read().catch(() => undefined), timedOut]);
      if (figures === undefined) {
        try {
          process?.signal('SIGKILL');
        } catch {
          // The sandbox is gone: nothing is left to kill.
        }
      }
      return figures;
    } finally {
      clearTimeout(timer);
    }
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

/**
 * The output of `cat procs events current peak` (in that order) as the guest's usage. Without
 * memory.events (the marker between the pids and the memory figures) nothing can be told apart:
 * processes and memory are then undefined.
 */
export function parseGuestUsage(text: string): SandboxUsage {
  const lines = text.split('\n');
  const eventsAt = lines.findIndex((line) => line.startsWith('low '));
  const oomKill = /^oom_kill (\d+)$/m.exec(text);
  if (eventsAt < 0) {
    return {
      processes: undefined,
      oomKills: oomKill ? Number(oomKill[1]) : 0,
      memoryBytes: undefined,
      peakMemoryBytes: undefined,
    };
  }
  const procs = lines.slice(0, eventsAt).filter((line) => /^\d+$/.test(line));
  const numbers = lines.slice(eventsAt + 1).filter((line) => /^\d+$/.test(line));
  return {
    // Besides the agent (PID 1) and the `cat` reading them.
    processes: Math.max(0, procs.length - 2),
    oomKills: oomKill ? Number(oomKill[1]) : 0,
    memoryBytes: numbers[0] === undefined ? undefined : Number(numbers[0]),
    peakMemoryBytes: numbers[1] === undefined ? undefined : Number(numbers[1]),
  };
}

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}
