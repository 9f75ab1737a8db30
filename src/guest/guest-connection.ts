import type { Duplex } from 'node:stream';
import { MagsError } from '../errors/mags-error.ts';
import type { RequestChannel } from './guest-process.ts';
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameType,
  maxPayloadBytes,
  oldestProtocolVersion,
  protocolVersion,
} from './protocol.ts';

/** One request in flight: the connection routes each frame with its id here. */
export interface PendingRequest {
  onFrame(frame: Frame): void;
  onClose(error: Error): void;
}

/**
 * One connection to a guest agent: the HELLO handshake, request ids, the routing of frames to
 * the requests waiting for them, and writes with back-pressure. `GuestClient` builds the
 * protocol's requests (exec, files, ping) on it.
 */
export class GuestConnection {
  /** The agent's pid in its own pid namespace (1 inside a sandbox). */
  readonly agentPid: number;
  /** The protocol version the agent speaks (its HELLO): 2 or 3. */
  readonly agentProtocolVersion: number;
  /** Resolves when the connection has ended, for whatever reason; never rejects. */
  readonly closed: Promise<void>;
  readonly #socket: Duplex;
  readonly #pending = new Map<number, PendingRequest>();
  #nextId = 1;
  #closeError: Error | undefined;

  private constructor(
    socket: Duplex,
    hello: { agentPid: number; version: number },
    decoder: FrameDecoder,
  ) {
    this.#socket = socket;
    this.agentPid = hello.agentPid;
    this.agentProtocolVersion = hello.version;
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
  static open(socket: Duplex, options: { helloTimeoutMs?: number } = {}): Promise<GuestConnection> {
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
        const version = hello.payload.length >= 8 ? hello.payload.readUInt32BE(0) : 0;
        if (
          hello.type !== FrameType.hello ||
          version < oldestProtocolVersion ||
          version > protocolVersion
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
        resolve(
          new GuestConnection(
            socket,
            { agentPid: hello.payload.readUInt32BE(4), version },
            decoder,
          ),
        );
      };
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.once('error', fail);
    });
  }

  /** Set once the connection has ended: what every request after that fails with. */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  allocateId(): number {
    // Ids are unique among live requests; 0 is reserved for connection-level frames.
    do {
      this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    } while (this.#pending.has(this.#nextId));
    return this.#nextId;
  }

  /** Routes the frames of request `id` to `pending` until `forget(id)`. */
  register(id: number, pending: PendingRequest): void {
    this.#pending.set(id, pending);
  }

  forget(id: number): void {
    this.#pending.delete(id);
  }

  /** Frames a request sends after its first (acks, signals): dropped once the connection ended. */
  channel(id: number): RequestChannel {
    return {
      send: (type, payload) => {
        // Control frames (acks, signals) after the connection closed have nowhere to go.
        if (!this.#closeError) this.send(type, id, payload);
      },
    };
  }

  /** A request answered by frames: `onFrame` settles it; it fails if the connection ends first. */
  request<T>(
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

  /** Writes one frame; false when the socket's buffer is full (see `sendAndDrain`). */
  send(type: FrameType, id: number, payload?: Buffer): boolean {
    if (this.#closeError) throw this.#closeError;
    if (payload && payload.length > maxPayloadBytes) throw new RangeError('payload too large');
    return this.#socket.write(encodeFrame(type, id, payload));
  }

  /** Writes one frame and waits until the socket can take more (or has closed). */
  async sendAndDrain(type: FrameType, id: number, payload: Buffer): Promise<void> {
    if (this.send(type, id, payload)) return;
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

  /** Drops the connection at once. */
  destroy(): void {
    this.#socket.destroy();
  }
}

/** The agent sent what the protocol does not allow at this point. */
export function protocolError(what: string): MagsError {
  return new MagsError(`The guest agent broke the protocol: ${what}.`, {
    code: 'guest_protocol',
    hint: 'Rebuild the agent: npm run build',
  });
}
