import type { Duplex } from 'node:stream';
import { GuestConnection } from './guest-connection.ts';
import {
  forgetExec,
  listExecs,
  type ResumedGuestProcess,
  resumeExec,
  startExec,
} from './guest-execs.ts';
import {
  type GuestFileRead,
  readGuestFile,
  readGuestFileStream,
  writeGuestFile,
} from './guest-files.ts';
import { openGuestPort } from './guest-port.ts';
import type { GuestExecInfo, GuestExecRequest, GuestProcess } from './guest-process.ts';
import { FrameType } from './protocol.ts';

export type { ResumedGuestProcess } from './guest-execs.ts';
export type { GuestFileRead } from './guest-files.ts';
export {
  GuestError,
  type GuestExecInfo,
  type GuestExecRequest,
  type GuestExitStatus,
  type GuestProcess,
  type GuestResumePoint,
} from './guest-process.ts';

/**
 * The host side of the guest protocol (docs/guest-protocol.md) over any byte stream: a unix
 * socket for the namespace runtime, virtio-serial or TCP for others. Requests are multiplexed
 * by id on one connection (`guest-connection.ts`); each exec's output is flow-controlled on its
 * own, so a command whose output nobody reads pauses only that command. Execs are in
 * `guest-execs.ts`, file transfers in `guest-files.ts`.
 *
 * ```ts
 * const guest = await GuestClient.connect(socket);
 * const process = guest.exec({ argv: ['sh', '-c', 'echo hi'], env: { PATH: '/bin' }, cwd: '/' });
 * process.stdout.pipe(output);
 * const { exitCode } = await process.exited;
 * ```
 */
export class GuestClient {
  /** The agent's pid in its own pid namespace (1 inside a sandbox). */
  readonly agentPid: number;
  /** The protocol version the agent speaks (its HELLO): 2, 3 (FORGET) or 4 (ports). */
  readonly agentProtocolVersion: number;
  /** Resolves when the connection has ended, for whatever reason; never rejects. */
  readonly closed: Promise<void>;
  readonly #connection: GuestConnection;

  private constructor(connection: GuestConnection) {
    this.#connection = connection;
    this.agentPid = connection.agentPid;
    this.agentProtocolVersion = connection.agentProtocolVersion;
    this.closed = connection.closed;
  }

  /**
   * Waits for the agent's HELLO on an already-connected stream and checks its protocol version.
   * Rejects with a MagsError: `guest_timeout` (no HELLO within `helloTimeoutMs`, default 10 s),
   * `guest_closed` or `guest_protocol`.
   */
  static async connect(
    socket: Duplex,
    options: { helloTimeoutMs?: number } = {},
  ): Promise<GuestClient> {
    return new GuestClient(await GuestConnection.open(socket, options));
  }

  /**
   * Starts a command. Returns at once; output is buffered from the first byte, so listeners
   * attached after this call miss nothing. A start failure rejects `exited`.
   */
  exec(request: GuestExecRequest): GuestProcess {
    return startExec(this.#connection, request);
  }

  /**
   * Picks a durable exec (one started with a `key`) up again, e.g. after the host process that
   * started it was restarted: the agent replays its output from the given offsets (the bytes
   * of each stream the caller already has), then streams on; an exec that ended meanwhile
   * replays and then reports its exit. Stdin is closed (the agent closed it at the disconnect).
   * `exited` rejects with a GuestError: errno 2 (ENOENT) for a key the agent does not know,
   * 16 (EBUSY) when another connection holds the exec.
   */
  resume(
    key: string,
    offsets: { stdoutOffset?: number; stderrOffset?: number } = {},
    options: { tty?: boolean } = {},
  ): ResumedGuestProcess {
    return resumeExec(this.#connection, key, offsets, options);
  }

  /** The durable execs (started with a `key`) the agent holds, running or ended. */
  listExecs(): Promise<GuestExecInfo[]> {
    return listExecs(this.#connection);
  }

  /**
   * Releases a durable exec the agent keeps for a host that will never resume it (FORGET): a
   * running one is killed, an ended one's kept output and exit status are dropped. Resolves true
   * when released, false when the agent does not know the key (or, of protocol version 2,
   * cannot forget); rejects with a GuestError (errno 16, EBUSY) when an open connection holds it.
   */
  forget(key: string): Promise<boolean> {
    return forgetExec(this.#connection, key);
  }

  /**
   * Uploads a file atomically (it appears under `path` complete, or not at all) with `mode`
   * (default 0o644), creating parent directories. `path` must be absolute (the agent rejects
   * anything else). Rejects with a GuestError carrying the agent's errno text.
   */
  writeFile(
    path: string,
    data: Buffer | AsyncIterable<Buffer>,
    options: { mode?: number } = {},
  ): Promise<void> {
    return writeGuestFile(this.#connection, path, data, options);
  }

  /**
   * Reads a whole file into memory: for small files only, so `maxBytes` defaults to 64 MiB.
   * Rejects like `readFileStream`.
   */
  readFile(path: string, options: { maxBytes?: number } = {}): Promise<Buffer> {
    return readGuestFile(this.#connection, path, options);
  }

  /**
   * Opens a regular file for a streamed, flow-controlled read. Resolves once the agent has
   * announced the file's size and mode, before any data is taken: the stream then delivers
   * exactly `sizeBytes` bytes (a file that grows meanwhile is cut there). Rejects with a
   * GuestError whose `statusCode` says whose fault it is (404 ENOENT, 400 for a directory or
   * anything not a regular file, ...), or with a 413 `file_too_large` when the file is over
   * `maxBytes` (nothing was read). Destroying the stream before its end cancels the read in the
   * agent, which frees its file slot; the stream is destroyed with a GuestError if a read fails.
   */
  readFileStream(path: string, options: { maxBytes?: number } = {}): Promise<GuestFileRead> {
    return readGuestFileStream(this.#connection, path, options);
  }

  /**
   * A byte stream to a TCP port on the sandbox's loopback, relayed by the agent (protocol
   * version 4): reaches a server inside without any network into the sandbox. Rejects with a
   * 502 `port_not_listening` when nothing listens there, a 409 `agent_too_old` for an older agent.
   */
  openPort(port: number): Promise<Duplex> {
    return openGuestPort(this.#connection, port);
  }

  /** Round trip to the agent in milliseconds (health check and latency measurement). */
  async ping(): Promise<number> {
    const connection = this.#connection;
    const id = connection.allocateId();
    const startedAt = performance.now();
    const done = connection.request<void>(id, (frame, resolve) => {
      if (frame.type === FrameType.pong) resolve();
    });
    connection.send(FrameType.ping, id);
    await done;
    return performance.now() - startedAt;
  }

  /** Asks the agent to kill every process and exit; resolves when the connection has closed. */
  async shutdown(): Promise<void> {
    if (!this.#connection.closeError) this.#connection.send(FrameType.shutdown, 0);
    await this.closed;
  }

  /**
   * Drops the connection. With `--fd`, the agent then kills everything and exits; on a listening
   * agent, execs without a key are killed and durable ones (with a key) run on.
   */
  close(): void {
    this.#connection.destroy();
  }
}
