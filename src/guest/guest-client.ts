import { constants } from 'node:os';
import { type Duplex, PassThrough } from 'node:stream';
import { MagsError } from '../errors/mags-error.ts';
import type { ExecRequest, ExecResult, SandboxProcess } from '../runtimes/runtime.ts';
import {
  encodeExec,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameType,
  maxPayloadBytes,
  PayloadWriter,
  protocolVersion,
} from './protocol.ts';

/** An error the guest agent reported (exec failed, file not found, protocol violation). */
export class GuestError extends MagsError {
  readonly errno: number;
  constructor(message: string, errno: number) {
    super(message, { code: 'guest_error' });
    this.errno = errno;
  }
}

interface Pending {
  onFrame: (frame: Frame) => void;
  onClose: (error: Error) => void;
}

const chunkBytes = 256 * 1024;

/**
 * The host side of the guest protocol over any byte stream (a unix socket here, virtio-serial
 * or TCP for other runtimes). Requests are multiplexed by id; output streams honour
 * backpressure: a slow consumer pauses the socket, and the agent then pauses the command.
 */
export class GuestClient {
  readonly agentPid: number;
  /** Resolves when the connection has ended, for whatever reason. */
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
        this.#closeError =
          error ?? new MagsError('The sandbox connection closed.', { code: 'guest_closed' });
        for (const pending of this.#pending.values()) pending.onClose(this.#closeError);
        this.#pending.clear();
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
        socket.destroy(error as Error);
        return;
      }
      for (const frame of frames) this.#pending.get(frame.id)?.onFrame(frame);
    });
  }

  /** Waits for the agent's HELLO on an already-connected stream. */
  static connect(socket: Duplex, options: { helloTimeoutMs?: number } = {}): Promise<GuestClient> {
    return new Promise((resolve, reject) => {
      const decoder = new FrameDecoder();
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
      const cleanup = () => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
        socket.off('error', fail);
      };
      const fail = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onClose = () =>
        fail(
          new MagsError('The guest agent closed the connection before it was ready.', {
            code: 'guest_closed',
          }),
        );
      const onData = (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (error) {
          return fail(error as Error);
        }
        const hello = frames.shift();
        if (!hello) return;
        if (hello.type !== FrameType.hello || hello.payload.readUInt32BE(0) !== protocolVersion) {
          return fail(
            new MagsError('The guest agent speaks another protocol version.', {
              code: 'guest_protocol',
              hint: 'Rebuild it: npm run build',
            }),
          );
        }
        cleanup();
        socket.pause();
        const client = new GuestClient(socket, hello.payload.readUInt32BE(4), decoder);
        socket.resume();
        resolve(client);
        // Frames that arrived in the same chunk as the hello (none in practice) would belong to no request.
      };
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.once('error', fail);
    });
  }

  exec(request: ExecRequest): SandboxProcess {
    const id = this.#allocateId();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let settle:
      | { resolve: (result: ExecResult) => void; reject: (error: Error) => void }
      | undefined;
    const exited = new Promise<ExecResult>((resolve, reject) => {
      settle = { resolve, reject };
    });
    exited.catch(() => {}); // callers may only look at the streams
    const end = () => {
      this.#pending.delete(id);
      stdout.end();
      stderr.end();
    };
    const write = (target: PassThrough, data: Buffer) => {
      // Backpressure: stop reading the socket until the consumer catches up.
      if (!target.write(data)) {
        this.#socket.pause();
        target.once('drain', () => this.#socket.resume());
      }
    };
    this.#pending.set(id, {
      onFrame: (frame) => {
        if (frame.type === FrameType.stdout) write(stdout, frame.payload);
        else if (frame.type === FrameType.stderr) write(stderr, frame.payload);
        else if (frame.type === FrameType.exit) {
          const code = frame.payload.readUInt32BE(0);
          const signal = frame.payload.readUInt32BE(4);
          end();
          settle?.resolve({
            exitCode: code === 0xffffffff ? null : code,
            signal: signal ? signalName(signal) : null,
          });
        } else if (frame.type === FrameType.error) {
          end();
          settle?.reject(guestError(frame));
        }
      },
      onClose: (error) => {
        end();
        settle?.reject(error);
      },
    });
    this.#send(FrameType.exec, id, encodeExec(request));
    return {
      stdout,
      stderr,
      exited,
      writeStdin: (data) => {
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
          this.#send(FrameType.stdin, id, bytes.subarray(offset, offset + chunkBytes));
        }
      },
      closeStdin: () => this.#send(FrameType.stdinClose, id),
      signal: (name) =>
        this.#send(
          FrameType.signal,
          id,
          new PayloadWriter().u32(constants.signals[name]).toBuffer(),
        ),
      resize: (rows, cols) =>
        this.#send(FrameType.resize, id, new PayloadWriter().u32(rows).u32(cols).toBuffer()),
    };
  }

  async writeFile(
    path: string,
    data: Buffer | AsyncIterable<Buffer>,
    options: { mode?: number } = {},
  ): Promise<void> {
    const id = this.#allocateId();
    const done = this.#request(id, (frame, resolve, reject) => {
      if (frame.type === FrameType.ok) resolve(undefined);
      else if (frame.type === FrameType.error) reject(guestError(frame));
    });
    this.#send(
      FrameType.writeFile,
      id,
      new PayloadWriter()
        .u32(options.mode ?? 0o644)
        .string(path)
        .toBuffer(),
    );
    const chunks = Buffer.isBuffer(data) ? [data] : data;
    let failed = false;
    done.catch(() => {
      failed = true;
    });
    for await (const chunk of chunks) {
      for (let offset = 0; offset < chunk.length && !failed; offset += chunkBytes) {
        await this.#sendAndDrain(
          FrameType.writeData,
          id,
          chunk.subarray(offset, offset + chunkBytes),
        );
      }
      if (failed) break;
    }
    if (!failed) this.#send(FrameType.writeEnd, id);
    await done;
  }

  async readFile(path: string): Promise<Buffer> {
    const id = this.#allocateId();
    const chunks: Buffer[] = [];
    const done = this.#request<Buffer>(id, (frame, resolve, reject) => {
      if (frame.type === FrameType.fileData) chunks.push(frame.payload);
      else if (frame.type === FrameType.fileEnd) resolve(Buffer.concat(chunks));
      else if (frame.type === FrameType.error) reject(guestError(frame));
    });
    this.#send(FrameType.readFile, id, new PayloadWriter().string(path).toBuffer());
    return done;
  }

  /** Round trip in milliseconds. */
  async ping(): Promise<number> {
    const id = this.#allocateId();
    const startedAt = performance.now();
    const done = this.#request(id, (frame, resolve) => {
      if (frame.type === FrameType.pong) resolve(undefined);
    });
    this.#send(FrameType.ping, id);
    await done;
    return performance.now() - startedAt;
  }

  /** Asks the agent to kill everything and exit. */
  async shutdown(): Promise<void> {
    this.#send(FrameType.shutdown, 0);
    await this.closed;
  }

  close(): void {
    this.#socket.destroy();
  }

  #allocateId(): number {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xfffffffe ? 1 : this.#nextId + 1;
    return id;
  }

  #request<T>(
    id: number,
    onFrame: (frame: Frame, resolve: (value: T) => void, reject: (error: Error) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (action: () => void) => {
        this.#pending.delete(id);
        action();
      };
      this.#pending.set(id, {
        onFrame: (frame) =>
          onFrame(
            frame,
            (value) => finish(() => resolve(value)),
            (error) => finish(() => reject(error)),
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
    if (!this.#send(type, id, payload)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#socket.off('drain', done);
          this.#socket.off('close', done);
          resolve();
        };
        this.#socket.once('drain', done);
        this.#socket.once('close', done);
      });
    }
  }
}

function guestError(frame: Frame): GuestError {
  const errno = frame.payload.length >= 4 ? frame.payload.readUInt32BE(0) : 0;
  return new GuestError(
    frame.payload.subarray(4).toString('utf8') || 'the guest agent reported an error',
    errno,
  );
}

function signalName(number: number): string {
  const entry = Object.entries(constants.signals).find(([, value]) => value === number);
  return entry ? entry[0] : `SIG${number}`;
}
