import { createWriteStream, constants as fsConstants } from 'node:fs';
import { chmod, open } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CapabilityUnsupportedError, MagsError } from '../../errors/mags-error.ts';
import type {
  DurableExecInfo,
  ExecRequest,
  FileRead,
  ResumedProcess,
  Sandbox,
  SandboxExit,
  SandboxProcess,
  SandboxUsage,
  WorkspaceReference,
} from '../runtime.ts';
import { ExecConnection } from './exec-connection.ts';
import { DurableExec, refusal } from './fake-durable-exec.ts';
import {
  type CommandRequest,
  childExit,
  execFailed,
  processesInSessions,
  residentBytes,
  spawnChild,
  spawnCommand,
} from './fake-process.ts';
import type { FakeSandboxState } from './fake-sandbox-state.ts';

const defaultReadMaxBytes = 64 * 1024 * 1024;

/**
 * A sandbox of the fake runtime: no isolation at all. Commands are child processes of this
 * process with `/workspace` (as cwd, and in file paths) mapped to a host directory; every other
 * path is the host's own, read-only for the file calls. What it does do, it does for real:
 * streams, exit codes, signals, stdin, files, counting and killing what commands leave behind,
 * freezing them (SIGSTOP) for pause, durable execs that outlive the handle (`detach`, then
 * `Runtime.attach` gives another handle on the same sandbox: `FakeSandboxState`).
 */
export class FakeSandbox implements Sandbox {
  readonly id: string;
  readonly workspace?: WorkspaceReference;
  readonly labels: Record<string, string>;
  readonly warnings: string[] = [];
  readonly #state: FakeSandboxState;
  readonly #onDetach: () => void;
  /** Commands started without a key through this handle: they end when it detaches. */
  readonly #plain = new Set<SandboxProcess>();
  #detached = false;

  constructor(options: { state: FakeSandboxState; onDetach: () => void }) {
    const { state } = options;
    this.id = state.id;
    if (state.workspace !== undefined) this.workspace = state.workspace;
    this.labels = state.labels;
    this.#state = state;
    this.#onDetach = options.onDetach;
  }

  /** The host directory standing for `/workspace` (for tests that look behind the sandbox). */
  get workspaceDirectory(): string {
    return this.#state.layer.directory;
  }

  /** Frozen (paused, or asleep): for tests that check a sandbox was left asleep. */
  get paused(): boolean {
    return this.#state.paused;
  }

  exec(request: ExecRequest): SandboxProcess {
    this.#assertRunning();
    if (request.tty) {
      throw new CapabilityUnsupportedError('fake', 'tty');
    }
    this.#state.thaw();
    const command = {
      argv: request.argv,
      env: request.env,
      cwd: this.#hostPath(request.cwd),
      stdin: request.stdin ?? false,
      onSession: (session: number) => this.#state.sessions.add(session),
    };
    if (request.key !== undefined) return this.#execDurable(request.key, command);
    const process = spawnCommand(command);
    this.#plain.add(process);
    const forget = () => this.#plain.delete(process);
    process.exited.then(forget, forget);
    return process;
  }

  resumeExec(
    key: string,
    offsets: { stdoutOffset?: number; stderrOffset?: number } = {},
  ): ResumedProcess {
    this.#assertRunning();
    this.#state.thaw();
    const exec = this.#state.execs.get(key);
    if (exec === undefined) {
      return new ExecConnection(this, { stdin: false }).refuse(refusal.unknownKey());
    }
    return exec.resume(this, offsets);
  }

  async listExecs(): Promise<DurableExecInfo[]> {
    this.#assertRunning();
    this.#state.thaw();
    return [...this.#state.execs.values()].map((exec) => exec.info());
  }

  /**
   * Releases a durable exec nobody will resume (FORGET): true when released (a running one is
   * killed), false for a key the sandbox does not know; rejects (errno 16, EBUSY) while a
   * handle holds it.
   */
  async forgetExec(key: string): Promise<boolean> {
    this.#assertRunning();
    this.#state.thaw();
    const exec = this.#state.execs.get(key);
    if (exec === undefined) return false;
    exec.release();
    return true;
  }

  /**
   * Lets go of the sandbox, which runs on: commands started without a key through this handle
   * end, durable ones run on with their output kept, and this handle is of no use any more.
   */
  async detach(): Promise<void> {
    if (this.#detached || !this.#state.running) return;
    this.#detached = true;
    for (const process of this.#plain) process.signal('SIGKILL');
    for (const exec of this.#state.execs.values()) exec.detach(this);
    this.#onDetach();
  }

  #execDurable(key: string, command: CommandRequest): SandboxProcess {
    const connection = new ExecConnection(this, { stdin: command.stdin });
    if (this.#state.execs.has(key)) return connection.refuse(refusal.keyInUse());
    const child = spawnChild(command);
    if (child === undefined) return connection.refuse(execFailed('no program given'));
    if (child.pid === undefined) {
      childExit(child, command.argv[0] as string).catch((error: Error) => {
        connection.refuse(error);
      });
      return connection;
    }
    const exec = new DurableExec({
      key,
      child,
      connection,
      forget: () => {
        if (this.#state.execs.get(key) === exec) this.#state.execs.delete(key);
      },
    });
    this.#state.execs.set(key, exec);
    return connection;
  }

  async writeFile(
    path: string,
    data: Buffer | AsyncIterable<Buffer>,
    options: { mode?: number } = {},
  ): Promise<void> {
    this.#assertRunning();
    this.#state.thaw();
    const target = this.#hostPath(path);
    if (!this.#inWorkspace(path)) {
      throw new MagsError(`The fake runtime writes files only under /workspace, not ${path}.`, {
        code: 'read_only',
        statusCode: 403,
      });
    }
    const mode = options.mode ?? 0o644;
    const source = Buffer.isBuffer(data) ? Readable.from([data]) : Readable.from(data);
    await pipeline(source, createWriteStream(target, { mode }));
    await chmod(target, mode); // the umask applies to the mode given at creation
  }

  async readFileStream(path: string, options: { maxBytes?: number } = {}): Promise<FileRead> {
    this.#assertRunning();
    this.#state.thaw();
    // Non-blocking: opening a FIFO must not wait for a writer before it can be refused.
    const handle = await open(
      this.#hostPath(path),
      fsConstants.O_RDONLY | fsConstants.O_NONBLOCK,
    ).catch((error: NodeJS.ErrnoException) => {
      throw fileError(path, error.code);
    });
    try {
      const stats = await handle.stat();
      if (stats.isDirectory()) throw fileError(path, 'EISDIR');
      if (!stats.isFile()) throw fileError(path, 'EINVAL');
      const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
      if (stats.size > maxBytes) {
        throw new MagsError(`${path} is ${stats.size} bytes, over the ${maxBytes}-byte limit.`, {
          code: 'file_too_large',
          statusCode: 413,
        });
      }
      const stream =
        stats.size === 0
          ? Readable.from([])
          : handle.createReadStream({ start: 0, end: stats.size - 1 });
      if (stats.size === 0) await handle.close();
      return { sizeBytes: stats.size, mode: stats.mode, stream };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async readFile(path: string, options: { maxBytes?: number } = {}): Promise<Buffer> {
    const file = await this.readFileStream(path, {
      maxBytes: options.maxBytes ?? defaultReadMaxBytes,
    });
    const chunks: Buffer[] = [];
    for await (const chunk of file.stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async usage(): Promise<SandboxUsage> {
    const pids = this.#state.running ? await processesInSessions(this.#state.sessions) : [];
    return {
      oomKills: 0, // no memory limit, so no OOM kill of its making
      peakMemoryBytes: undefined,
      memoryBytes: await residentBytes(pids),
      processes: pids.length,
    };
  }

  isRunning(): boolean {
    return this.#state.running && !this.#detached;
  }

  async pause(): Promise<void> {
    this.#assertRunning();
    await this.#state.freeze();
  }

  async resume(): Promise<void> {
    this.#state.thaw();
  }

  stop(): Promise<SandboxExit> {
    // Let go of: stopping it is no longer this handle's to do (another one holds it, or will).
    if (this.#detached) return Promise.resolve({ oomKills: 0, peakMemoryBytes: undefined });
    return this.#state.stop();
  }

  /** Ends every process as if the sandbox died under its caller (for tests of that case). */
  async crash(): Promise<void> {
    this.#state.running = false;
    await this.#state.killAll();
  }

  #assertRunning(): void {
    if (!this.isRunning()) {
      throw new MagsError(`Sandbox ${this.id} has ended.`, {
        code: 'sandbox_ended',
        sandboxId: this.id,
      });
    }
  }

  #inWorkspace(path: string): boolean {
    const normalized = normalize(path);
    return normalized === '/workspace' || normalized.startsWith('/workspace/');
  }

  #hostPath(path: string): string {
    const normalized = normalize(path);
    if (!this.#inWorkspace(normalized)) return normalized;
    return join(this.#state.layer.directory, normalized.slice('/workspace'.length));
  }
}

const fileErrors: Record<string, { code: string; statusCode: number }> = {
  ENOENT: { code: 'file_not_found', statusCode: 404 },
  ENOTDIR: { code: 'file_not_found', statusCode: 404 },
  EISDIR: { code: 'is_a_directory', statusCode: 400 },
  EINVAL: { code: 'not_a_regular_file', statusCode: 400 },
  ENXIO: { code: 'not_a_regular_file', statusCode: 400 },
  EACCES: { code: 'permission_denied', statusCode: 403 },
};

function fileError(path: string, errno: string | undefined): MagsError {
  const known = fileErrors[errno ?? ''];
  return new MagsError(`Cannot read ${path}: ${errno ?? 'unknown error'}.`, {
    code: known?.code ?? 'file_error',
    statusCode: known?.statusCode,
  });
}
