import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { InvalidInputError, MagsError } from '../../errors/mags-error.ts';
import type { ExecResult, SandboxProcess } from '../runtime.ts';

export interface CommandRequest {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  stdin: boolean;
  /** Each started command's session id (= its pid), for counting and killing what it leaves. */
  onSession: (sessionId: number) => void;
}

/**
 * Starts a command as a plain child process of this process, in a session of its own
 * (`detached`), so that the processes it leaves behind can be counted and killed by session id,
 * the way a real runtime's agent finds them in its pid namespace. Undefined without a program;
 * a child without a pid could not start (its `error` event says why: `childExit`).
 */
export function spawnChild(request: CommandRequest): ChildProcessWithoutNullStreams | undefined {
  const [program, ...args] = request.argv;
  if (program === undefined) return undefined;
  const child = spawn(program, args, {
    cwd: request.cwd,
    env: request.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) request.onSession(child.pid);
  // Without `stdin` the command reads an empty stdin (the runtime contract).
  if (!request.stdin) child.stdin.end();
  child.stdin.on('error', () => {}); // a command that exits before reading its stdin: EPIPE
  return child;
}

/** How the child's main process ended; rejects (`guest_exec_failed`) when it could not start. */
export function childExit(
  child: ChildProcessWithoutNullStreams,
  program: string,
): Promise<ExecResult> {
  const exited = new Promise<ExecResult>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(execFailed(`${program}: ${error.code ?? error.message}`));
    });
    child.once('exit', (exitCode, signal) => resolve({ exitCode, signal }));
  });
  exited.catch(() => {}); // read by the caller; never an unhandled rejection here
  return exited;
}

/** One command of a fake sandbox, without a key: it ends with the handle that started it. */
export function spawnCommand(request: CommandRequest): SandboxProcess {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const child = spawnChild(request);
  if (child === undefined) {
    stdout.end();
    stderr.end();
    const exited = Promise.reject(execFailed('no program given'));
    exited.catch(() => {});
    return {
      stdout,
      stderr,
      exited,
      writeStdin: () => {},
      closeStdin: () => {},
      signal: () => {},
      resize: () => {},
    };
  }
  child.stdout.pipe(stdout);
  child.stderr.pipe(stderr);
  const exited = childExit(child, request.argv[0] as string);
  exited.catch(() => {
    stdout.end();
    stderr.end();
  });
  return {
    stdout,
    stderr,
    exited,
    writeStdin: (data) => {
      if (!request.stdin) throw new InvalidInputError('This command was started without stdin.');
      child.stdin.write(data);
    },
    closeStdin: () => child.stdin.end(),
    signal: (signal) => {
      // The whole process group, as the guest agent does (guest-process.ts).
      if (child.pid !== undefined) signalGroup(child.pid, signal);
    },
    resize: () => {},
  };
}

export function execFailed(message: string): MagsError {
  return new MagsError(`The command could not start: ${message}.`, { code: 'guest_exec_failed' });
}

export function signalGroup(groupId: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-groupId, signal);
  } catch {
    // The group is gone: nothing left to signal.
  }
}

/** Pids of the live (non-zombie) processes in these sessions, read from /proc (proc(5)). */
export async function processesInSessions(sessions: Set<number>): Promise<number[]> {
  if (sessions.size === 0) return [];
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const session = Number(fields[3]);
    if (state !== 'Z' && sessions.has(session)) pids.push(Number(entry));
  }
  return pids;
}

/** Resident memory of these processes (`statm`'s second field, in pages). */
export async function residentBytes(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const statm = await readFile(`/proc/${pid}/statm`, 'utf8').catch(() => undefined);
    total += Number(statm?.split(' ')[1] ?? 0) * 4096;
  }
  return total;
}

export function signalProcesses(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Exited meanwhile.
    }
  }
}
