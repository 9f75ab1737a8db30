import type { Readable } from 'node:stream';
import type { ExecRequest, SandboxProcess, SandboxUsage } from './runtime.ts';

/**
 * A guest cgroup's figures (processes, OOM kills, memory), read through the agent by one `cat`:
 * pseudo-files have no size, so the agent's file reads (which stream st_size bytes) cannot carry
 * them, and the `cat` is itself one of the processes it lists. Undefined when the guest did not
 * answer within `timeoutMs` or the read failed: a hung guest, an image without /bin/cat or a
 * sandbox already gone must not hold up (or fail) the end of a run. Used by the runtimes whose
 * sandbox is a machine or a pod with its own cgroup (qemu, kubernetes).
 */
export async function readGuestCgroupUsage(
  exec: (request: ExecRequest) => SandboxProcess,
  cgroup: string,
  timeoutMs: number,
): Promise<SandboxUsage | undefined> {
  let process: SandboxProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  const read = async () => {
    process = exec({
      argv: [
        '/bin/cat',
        `${cgroup}/cgroup.procs`,
        `${cgroup}/memory.events`,
        `${cgroup}/memory.current`,
        `${cgroup}/memory.peak`,
      ],
      env: {},
      cwd: '/',
    });
    const [text] = await Promise.all([readAll(process.stdout), readAll(process.stderr)]);
    await process.exited;
    // A file `cat` could not read is missing from the text, and its figure from the result.
    return parseGuestUsage(text);
  };
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
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
