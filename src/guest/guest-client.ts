import type { Duplex, Readable } from 'node:stream';
import { MagsError } from '../errors/mags-error.ts';
import { CreditedReadable } from './credited-readable.ts';
import { fileErrorFromFrame } from './file-error.ts';
import {
  ExecHandle,
  type GuestExecInfo,
  type GuestExecRequest,
  type GuestProcess,
  type GuestResumePoint,
  type RequestChannel,
  signalName,
} from './guest-process.ts';
import {
  encodeExec,
  encodeFrame,
  exitCodeSignaled,
  type Frame,
  FrameDecoder,
  FrameType,
  maxPayloadBytes,
  PayloadReader,
  PayloadWriter,
  protocolVersion,
} from './protocol.ts';

export {
  GuestError,
  type GuestExecInfo,
  type GuestExecRequest,
  type GuestExitStatus,
  type GuestProcess,
  type GuestResumePoint,
} from './guest-process.ts';

/** A durable exec picked up again on a new connection. */
export interface ResumedGuestProcess extends GuestProcess {
  /** Where the replay starts; rejects like `exited` when the agent refused the RESUME. */
  readonly resumed: Promise<GuestResumePoint>;
}

interface Pending {
  onFrame(frame: Frame): void;
  onClose(error: Error): void;
}

/** Upload frames: big enough to be cheap, small enough to interleave with other requests. */
const uploadFrameBytes = 256 * 1024;
/** What `readFile` holds in memory at most unless told otherwise; larger files are streamed. */
const smallReadMaxBytes = 64 * 1024 * 1024;

/** A file being read: its size and mode when it was opened, and its bytes as they come. */
export interface GuestFileRead {
  sizeBytes: number;
  /** `st_mode`: type and permission bits. */
  mode: number;
  stream: Readable;
}

/**
 * The host side of the guest protocol (docs/guest-protocol.md) over any byte stream: a unix
 * socket for the namespace runtime, virtio-serial or TCP for others. Requests are multiplexed
 * by id on one connection; each exec's output is flow-controlled on its own, so a command whose
 * output nobody reads pauses only that command.
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
  /** Resolves when the connection has ended, for whatever reason; never rejects. */
  readonly closed: Promise<void>;
  readonly #socket: Duplex;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closeError: Error | undefined;

  private constructor(socket: Duplex, agentPid: number, decoder: FrameDecoder) {
    this.#socket = socket;
    this.agentPid = agentPid;
    this.closed = new Promise((resolve) => {
      const finish = (error?: Error) => {
        if (this.#closeError) return;
        this.#closeError = new MagsError('The connection to the guest agent closed.', {
          code: 'guest_closed',
          cause: error,
        });
        for (const pending of this.#pending.values()) pending.onClose(this.#closeError);
        this.#pending.clear();
        socket.destroy();
        resolve();
      };
      socket.on('close', () => finish());
      socket.on('end', () => finish());
      socket.on('error', (error) => finish(error));
    });
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        socket.destroy(error as Error); // the framing is lost: nothing after this can be trusted
        return;
      }
      // Frames for an id nobody waits for (a request already settled) are dropped on purpose.
      for (const frame of frames) this.#pending.get(frame.id)?.onFrame(frame);
    });
  }

  /**
   * Waits for the agent's HELLO on an already-connected stream and checks its protocol version.
   * Rejects with a MagsError: `guest_timeout` (no HELLO within `helloTimeoutMs`, default 10 s),
   * `guest_closed` or `guest_protocol`.
   */
  static connect(socket: Duplex, options: { helloTimeoutMs?: number } = {}): Promise<GuestClient> {
    return new Promise((resolve, reject) => {
      const decoder = new FrameDecoder();
      const fail = (error: Error) => {
        cleanup();
        reject(error);
      };
      const timer = setTimeout(
        () =>
          fail(
            new MagsError('The guest agent did not say hello in time.', {
              code: 'guest_timeout',
              retryable: true,
            }),
          ),
        options.helloTimeoutMs ?? 10_000,
      );
      const onClose = () =>
        fail(
          new MagsError('The guest agent closed the connection before it was ready.', {
            code: 'guest_closed',
          }),
        );
      const cleanup = () => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
        socket.off('error', fail);
      };
      const onData = (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (error) {
          return fail(error as Error);
        }
        const hello = frames[0];
        if (!hello) return;
        if (
          hello.type !== FrameType.hello ||
          hello.payload.length < 8 ||
          hello.payload.readUInt32BE(0) !== protocolVersion
        ) {
          socket.destroy();
          return fail(
            new MagsError('The guest agent speaks another protocol version.', {
              code: 'guest_protocol',
              hint: 'Rebuild the agent: npm run build',
            }),
          );
        }
        cleanup();
        // The agent sends nothing after HELLO until asked, so no frame is lost in the hand-over.
        resolve(new GuestClient(socket, hello.payload.readUInt32BE(4), decoder));
      };
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.once('error', fail);
    });
  }

  /**
   * Starts a command. Returns at once; output is buffered from the first byte, so listeners
   * attached after this call miss nothing. A start failure rejects `exited`.
   */
  exec(request: GuestExecRequest): GuestProcess {
    const payload = encodeExec(request); // validates (NUL bytes, empty argv) before using an id
    const id = this.#allocateId();
    const handle = new ExecHandle(this.#channel(id), request, () => this.#pending.delete(id));
    if (this.#closeError) {
      handle.onClose(this.#closeError);
      return handle;
    }
    this.#pending.set(id, handle);
    this.#send(FrameType.exec, id, payload);
    return handle;
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
    const payload = new PayloadWriter()
      .string(key)
      .u64(offsets.stdoutOffset ?? 0)
      .u64(offsets.stderrOffset ?? 0)
      .toBuffer();
    const id = this.#allocateId();
    const request = {
      argv: ['(resumed)'],
      env: {},
      cwd: '/',
      ...(options.tty ? { tty: { rows: 0, cols: 0 } } : {}),
    };
    const handle = new ExecHandle(this.#channel(id), request, () => this.#pending.delete(id));
    const resumed = Promise.race([
      handle.resumed,
      handle.exited.then(() => {
        throw protocolError('EXIT before RESUMED');
      }),
    ]);
    resumed.catch(() => {});
    if (this.#closeError) {
      handle.onClose(this.#closeError);
    } else {
      this.#pending.set(id, handle);
      this.#send(FrameType.resume, id, payload);
    }
    return Object.assign(handle, { resumed });
  }

  /** The durable execs (started with a `key`) the agent holds, running or ended. */
  async listExecs(): Promise<GuestExecInfo[]> {
    const id = this.#allocateId();
    const done = this.#request<Frame>(id, (frame, resolve) => {
      if (frame.type === FrameType.execs) resolve(frame);
    });
    this.#send(FrameType.listExecs, id);
    const reader = new PayloadReader((await done).payload);
    const count = reader.u32();
    const execs: GuestExecInfo[] = [];
    for (let index = 0; index < count; index++) {
      const key = reader.string();
      const pid = reader.u32();
      const flags = reader.u32();
      const code = reader.u32();
      const signal = reader.u32();
      const exited = (flags & 1) !== 0;
      execs.push({
        key,
        pid,
        exited,
        attached: (flags & 2) !== 0,
        exitCode: exited && code !== exitCodeSignaled ? code : null,
        signal: signal ? signalName(signal) : null,
        stdoutBytes: reader.u64(),
        stderrBytes: reader.u64(),
      });
    }
    return execs;
  }

  /**
   * Uploads a file atomically (it appears under `path` complete, or not at all) with `mode`
   * (default 0o644), creating parent directories. `path` must be absolute (the agent rejects
   * anything else). Rejects with a GuestError carrying the agent's errno text.
   */
  async writeFile(
    path: string,
    data: Buffer | AsyncIterable<Buffer>,
    options: { mode?: number } = {},
  ): Promise<void> {
    const header = new PayloadWriter()
      .u32(options.mode ?? 0o644)
      .string(path)
      .toBuffer();
    const id = this.#allocateId();
    let failed = false;
    const done = this.#request<void>(id, (frame, resolve, reject) => {
      if (frame.type === FrameType.ok) resolve();
      else if (frame.type === FrameType.error) {
        failed = true;
        reject(fileErrorFromFrame(frame));
      }
    });
    done.catch(() => {}); // observed below; this only keeps an early failure from going unhandled
    this.#send(FrameType.writeFile, id, header);
    try {
      for await (const chunk of Buffer.isBuffer(data) ? [data] : data) {
        for (let offset = 0; offset < chunk.length && !failed; offset += uploadFrameBytes) {
          await this.#sendAndDrain(
            FrameType.writeData,
            id,
            chunk.subarray(offset, offset + uploadFrameBytes),
          );
        }
        if (failed) break;
      }
    } catch (error) {
      // The source failed: abandon the upload (the agent deletes its temporary file).
      this.#pending.delete(id);
      if (!failed && !this.#closeError) this.#send(FrameType.writeAbort, id);
      throw error;
    }
    if (!failed && !this.#closeError) this.#send(FrameType.writeEnd, id);
    await done;
  }

  /**
   * Reads a whole file into memory: for small files only, so `maxBytes` defaults to 64 MiB.
   * Rejects like `readFileStream`.
   */
  async readFile(path: string, options: { maxBytes?: number } = {}): Promise<Buffer> {
    const { stream } = await this.readFileStream(path, {
      maxBytes: options.maxBytes ?? smallReadMaxBytes,
    });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
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
    const request = new PayloadWriter().string(path).toBuffer();
    const id = this.#allocateId();
    const channel = this.#channel(id);
    let open = true;
    // Ends the request on this side; the agent is told only when it has not ended it itself.
    const close = (cancel: boolean) => {
      if (!open) return;
      open = false;
      this.#pending.delete(id);
      if (cancel) channel.send(FrameType.readAbort);
    };
    const stream = new CreditedReadable(
      (bytes) => {
        if (open)
          channel.send(FrameType.outputAck, new PayloadWriter().u32(bytes).u32(0).toBuffer());
      },
      () => close(true),
    );
    return new Promise((resolve, reject) => {
      let announced = false;
      const fail = (error: Error) => {
        close(false);
        if (announced) stream.destroy(error);
        else {
          stream.destroy();
          reject(error);
        }
      };
      if (this.#closeError) return fail(this.#closeError);
      this.#pending.set(id, {
        onFrame: (frame) => {
          if (frame.type === FrameType.fileData) stream.deliver(frame.payload);
          else if (frame.type === FrameType.fileInfo) {
            const reader = new PayloadReader(frame.payload);
            const sizeBytes = reader.u64();
            const mode = reader.u32();
            if (options.maxBytes !== undefined && sizeBytes > options.maxBytes) {
              close(true);
              stream.destroy();
              return reject(fileTooLarge(path, sizeBytes, options.maxBytes));
            }
            announced = true;
            resolve({ sizeBytes, mode, stream });
          } else if (frame.type === FrameType.fileEnd) {
            if (!announced) return fail(protocolError('FILE_END before FILE_INFO'));
            close(false);
            stream.finish();
          } else if (frame.type === FrameType.error) fail(fileErrorFromFrame(frame));
        },
        onClose: fail,
      });
      this.#send(FrameType.readFile, id, request);
    });
  }

  /** Round trip to the agent in milliseconds (health check and latency measurement). */
  async ping(): Promise<number> {
    const id = this.#allocateId();
    const startedAt = performance.now();
    const done = this.#request<void>(id, (frame, resolve) => {
      if (frame.type === FrameType.pong) resolve();
    });
    this.#send(FrameType.ping, id);
    await done;
    return performance.now() - startedAt;
  }

  /** Asks the agent to kill every process and exit; resolves when the connection has closed. */
  async shutdown(): Promise<void> {
    if (!this.#closeError) this.#send(FrameType.shutdown, 0);
    await this.closed;
  }

  /**
   * Drops the connection. With `--fd`, the agent then kills everything and exits; on a listening
   * agent, execs without a key are killed and durable ones (with a key) run on.
   */
  close(): void {
    this.#socket.destroy();
  }

  #channel(id: number): RequestChannel {
    return {
      send: (type, payload) => {
        // Control frames (acks, signals) after the connection closed have nowhere to go.
        if (!this.#closeError) this.#send(type, id, payload);
      },
    };
  }

  #allocateId(): number {
    // Ids are unique among live requests; 0 is reserved for connection-level frames.
    do {
      this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    } while (this.#pending.has(this.#nextId));
    return this.#nextId;
  }

  #request<T>(
    id: number,
    onFrame: (frame: Frame, resolve: (value: T) => void, reject: (error: Error) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#closeError) return reject(this.#closeError);
      const settle = (action: () => void) => {
        this.#pending.delete(id);
        action();
      };
      this.#pending.set(id, {
        onFrame: (frame) =>
          onFrame(
            frame,
            (value) => settle(() => resolve(value)),
            (error) => settle(() => reject(error)),
          ),
        onClose: reject,
      });
    });
  }

  #send(type: FrameType, id: number, payload?: Buffer): boolean {
    if (this.#closeError) throw this.#closeError;
    if (payload && payload.length > maxPayloadBytes) throw new RangeError('payload too large');
    return this.#socket.write(encodeFrame(type, id, payload));
  }

  async #sendAndDrain(type: FrameType, id: number, payload: Buffer): Promise<void> {
    if (this.#send(type, id, payload)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
    });
  }
}

function fileTooLarge(path: string, sizeBytes: number, maxBytes: number): MagsError {
  return new MagsError(`${path} is ${sizeBytes} bytes, over the ${maxBytes}-byte limit.`, {
    code: 'file_too_large',
    statusCode: 413,
    hint: 'Split it inside the sandbox (split -b 512M FILE) and read the parts, or ask for a higher limit (mags server --max-download-mib 4096).',
  });
}

function protocolError(what: string): MagsError {
  return new MagsError(`The guest agent broke the protocol: ${what}.`, {
    code: 'guest_protocol',
    hint: 'Rebuild the agent: npm run build',
  });
}
