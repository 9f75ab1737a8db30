import { createWriteStream, constants as fsConstants } from 'node:fs';
import { chmod, open } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CapabilityUnsupportedError, MagsError } from '../../errors/mags-error.ts';
import type {
  ExecRequest,
  FileRead,
  Sandbox,
  SandboxExit,
  SandboxProcess,
  SandboxUsage,
  WorkspaceReference,
} from '../runtime.ts';
import type { FakeLayer } from './fake-layers.ts';
import {
  processesInSessions,
  residentBytes,
  signalProcesses,
  spawnCommand,
} from './fake-process.ts';

const defaultReadMaxBytes = 64 * 1024 * 1024;

/**
 * A sandbox of the fake runtime: no isolation at all. Commands are child processes of this
 * process with `/workspace` (as cwd, and in file paths) mapped to a host directory; every other
 * path is the host's own, read-only for the file calls. What it does do, it does for real:
 * streams, exit codes, signals, stdin, files, counting and killing what commands leave behind,
 * freezing them (SIGSTOP) for pause.
 */
export class FakeSandbox implements Sandbox {
  readonly id: string;
  readonly workspace?: WorkspaceReference;
  readonly labels: Record<string, string>;
  readonly warnings: string[] = [];
  readonly #layer: FakeLayer;
  readonly #onStop: () => void;
  readonly #sessions = new Set<number>();
  #running = true;
  #paused = false;
  #stopping: Promise<SandboxExit> | undefined;

  constructor(options: {
    id: string;
    workspace: WorkspaceReference | undefined;
    labels: Record<string, string>;
    layer: FakeLayer;
    onStop: () => void;
  }) {
    this.id = options.id;
    if (options.workspace !== undefined) this.workspace = options.workspace;
    this.labels = options.labels;
    this.#layer = options.layer;
    this.#onStop = options.onStop;
  }

  /** The host directory standing for `/workspace` (for tests that look behind the sandbox). */
  get workspaceDirectory(): string {
    return this.#layer.directory;
  }

  exec(request: ExecRequest): SandboxProcess {
    this.#assertRunning();
    if (request.tty) {
      throw new CapabilityUnsupportedError('fake', 'tty');
    }
    this.#thaw();
    return spawnCommand({
      argv: request.argv,
      env: request.env,
      cwd: this.#hostPath(request.cwd),
      stdin: request.stdin ?? false,
      onSession: (session) => this.#sessions.add(session),
    });
  }

  async writeFile(
    path: string,
    data: Buffer | AsyncIterable<Buffer>,
    options: { mode?: number } = {},
  ): Promise<void> {
    this.#assertRunning();
    this.#thaw();
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
    this.#thaw();
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
    const pids = this.#running ? await processesInSessions(this.#sessions) : [];
    return {
      oomKills: 0, // no memory limit, so no OOM kill of its making
      peakMemoryBytes: undefined,
      memoryBytes: await residentBytes(pids),
      processes: pids.length,
    };
  }

  isRunning(): boolean {
    return this.#running;
  }

  async pause(): Promise<void> {
    this.#assertRunning();
    signalProcesses(await processesInSessions(this.#sessions), 'SIGSTOP');
    this.#paused = true;
  }

  async resume(): Promise<void> {
    this.#thaw();
  }

  stop(): Promise<SandboxExit> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Ends every process as if the sandbox died under its caller (for tests of that case). */
  async crash(): Promise<void> {
    this.#running = false;
    await this.#killAll();
  }

  async #stop(): Promise<SandboxExit> {
    this.#running = false;
    await this.#killAll();
    await this.#layer.release();
    this.#onStop();
    return { oomKills: 0, peakMemoryBytes: undefined };
  }

  /** SIGKILL (which also ends stopped processes) until nothing of its sessions is left. */
  async #killAll(): Promise<void> {
    for (;;) {
      const pids = await processesInSessions(this.#sessions);
      if (pids.length === 0) return;
      signalProcesses(pids, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  #thaw(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // Synchronous from here on: a /proc scan would let a command see the sandbox still frozen.
    for (const session of this.#sessions) {
      try {
        process.kill(-session, 'SIGCONT');
      } catch {
        // The group is gone.
      }
    }
  }

  #assertRunning(): void {
    if (!this.#running) {
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
    return join(this.#layer.directory, normalized.slice('/workspace'.length));
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
