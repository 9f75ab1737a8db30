import type { Readable } from 'node:stream';
import {
  namespaceSandboxHandle,
  type SandboxParts,
} from '../namespace/namespace-sandbox-handle.ts';
import type { Sandbox, SandboxExit, SandboxUsage } from '../runtime.ts';

/** The guest's sandbox cgroup (native/vm-init.c): the agent and everything it starts. */
const guestCgroup = '/sys/fs/cgroup/sandbox';

/**
 * A qemu sandbox: the launcher's parts are the namespace runtime's (cgroup, freezer, stop), but
 * what runs inside is counted by the guest kernel, so usage comes from the guest's cgroup,
 * read through the agent. The host cgroup holds QEMU, whose threads and RAM are not the
 * sandbox's processes and memory.
 */
export function qemuSandboxHandle(parts: SandboxParts): Sandbox {
  const inner = namespaceSandboxHandle(parts);
  const guestUsage = async (): Promise<SandboxUsage> => {
    // Pseudo-files have no size, so the agent's file reads (which stream st_size bytes) cannot
    // carry them: one `cat` reads them all, and is itself one of the processes it lists.
    const process = inner.exec({
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
    return parseGuestUsage(text);
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
    usage: guestUsage,
    isRunning: inner.isRunning,
    async stop(): Promise<SandboxExit> {
      // The guest's own OOM kills are the sandbox's; QEMU's cgroup adds one when the host killed
      // the monitor itself.
      const guest = inner.isRunning() ? await guestUsage().catch(() => undefined) : undefined;
      const exit = await inner.stop();
      return {
        oomKills: exit.oomKills + (guest?.oomKills ?? 0),
        peakMemoryBytes: guest?.peakMemoryBytes ?? exit.peakMemoryBytes,
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

/** The output of `cat procs events current peak` (in that order) as the sandbox's usage. */
export function parseGuestUsage(text: string): SandboxUsage {
  const lines = text.split('\n');
  const eventsAt = lines.findIndex((line) => line.startsWith('low '));
  const procs = lines.slice(0, Math.max(0, eventsAt)).filter((line) => /^\d+$/.test(line));
  const oomKill = /^oom_kill (\d+)$/m.exec(text);
  const numbers = lines.slice(eventsAt + 1).filter((line) => /^\d+$/.test(line));
  return {
    // Besides the agent (PID 1) and the `cat` reading them.
    processes: eventsAt < 0 ? undefined : Math.max(0, procs.length - 2),
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
