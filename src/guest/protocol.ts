/**
 * The guest protocol, version 4 (docs/guest-protocol.md): frames of
 * `u32 length | u8 type | u32 id | payload`, big-endian, `length` counting type + id + payload.
 */
export const protocolVersion = 4;
/** The oldest agent a host still talks to: version 2 lacks only FORGET (a sandbox started before an upgrade). */
export const oldestProtocolVersion = 2;
export const maxPayloadBytes = 1024 * 1024;
/**
 * Flow control: at most this many unacknowledged bytes per stream of a request (stdout, stderr,
 * file data, stdin) are in flight. Must match WINDOW in native/agent.c.
 */
export const flowWindowBytes = 1024 * 1024;
/** The EXIT frame's exit code when a signal ended the command. */
export const exitCodeSignaled = 0xffffffff;
const headerBytes = 9;

export const FrameType = {
  exec: 0x01,
  stdin: 0x02,
  stdinClose: 0x03,
  signal: 0x04,
  resize: 0x05,
  outputAck: 0x06,
  resume: 0x07,
  listExecs: 0x08,
  forget: 0x09,
  writeFile: 0x10,
  writeData: 0x11,
  writeEnd: 0x12,
  readFile: 0x13,
  writeAbort: 0x14,
  readAbort: 0x15,
  ping: 0x20,
  shutdown: 0x21,
  hello: 0x80,
  started: 0x81,
  stdout: 0x82,
  stderr: 0x83,
  exit: 0x84,
  error: 0x85,
  ok: 0x86,
  fileData: 0x87,
  fileEnd: 0x88,
  pong: 0x89,
  stdinAck: 0x8a,
  fileInfo: 0x8b,
  resumed: 0x8c,
  execs: 0x8d,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** A decoded frame; `type` is a plain number because a peer may send any byte. */
export interface Frame {
  type: number;
  id: number;
  payload: Buffer;
}

export function encodeFrame(
  type: FrameType,
  id: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  if (payload.length > maxPayloadBytes)
    throw new RangeError(`frame payload of ${payload.length} bytes is over 1 MiB`);
  const header = Buffer.allocUnsafe(headerBytes);
  header.writeUInt32BE(payload.length + 5, 0);
  header.writeUInt8(type, 4);
  header.writeUInt32BE(id >>> 0, 5);
  return payload.length === 0 ? header : Buffer.concat([header, payload]);
}

/** Builds a structured payload: u32 numbers, and strings as u32 length + UTF-8 bytes. */
export class PayloadWriter {
  readonly #parts: Buffer[] = [];

  u32(value: number): this {
    const part = Buffer.allocUnsafe(4);
    part.writeUInt32BE(value >>> 0, 0);
    this.#parts.push(part);
    return this;
  }

  /** A u64 as two u32 halves, high first (exact up to 2^53). */
  u64(value: number): this {
    return this.u32(Math.floor(value / 2 ** 32)).u32(value % 2 ** 32);
  }

  string(value: string): this {
    if (value.includes('\0'))
      throw new RangeError('strings in the guest protocol cannot contain NUL');
    const bytes = Buffer.from(value, 'utf8');
    return this.u32(bytes.length).bytes(bytes);
  }

  strings(values: string[]): this {
    this.u32(values.length);
    for (const value of values) this.string(value);
    return this;
  }

  bytes(value: Buffer): this {
    this.#parts.push(value);
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/** Everything an EXEC carries; `env` is the command's complete environment. */
export interface ExecPayload {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  stdin?: boolean;
  tty?: { rows: number; cols: number };
  /**
   * Makes the exec durable: it outlives this connection (its output is kept for a host that
   * comes back with RESUME), and is found again by this key. Unique among the agent's execs.
   */
  key?: string;
  /**
   * EXEC flag bit 2 (protocol version 4): no program runs; the agent connects to the port
   * `argv[0]` on the sandbox's loopback and relays stdin and stdout to it (`openGuestPort`).
   */
  connect?: boolean;
}

export function encodeExec(request: ExecPayload): Buffer {
  if (request.argv.length === 0) throw new RangeError('an exec needs at least argv[0]');
  const flags = (request.stdin ? 1 : 0) | (request.tty ? 2 : 0) | (request.connect ? 4 : 0);
  return new PayloadWriter()
    .u32(flags)
    .u32(request.tty?.rows ?? 0)
    .u32(request.tty?.cols ?? 0)
    .string(request.cwd)
    .strings(request.argv)
    .strings(Object.entries(request.env).map(([key, value]) => `${key}=${value}`))
    .string(request.key ?? '')
    .toBuffer();
}

/** Reads the fields of structured payloads; throws a RangeError when the payload is too short. */
export class PayloadReader {
  readonly #payload: Buffer;
  #offset = 0;

  constructor(payload: Buffer) {
    this.#payload = payload;
  }

  u32(): number {
    if (this.#offset + 4 > this.#payload.length) throw new RangeError('payload too short');
    const value = this.#payload.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  /** A u64 (two u32 halves, high first), as a number: exact up to 2^53, which covers file sizes. */
  u64(): number {
    const high = this.u32();
    return high * 2 ** 32 + this.u32();
  }

  string(): string {
    const length = this.u32();
    if (this.#offset + length > this.#payload.length) throw new RangeError('payload too short');
    const value = this.#payload.toString('utf8', this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  /** Everything not read yet. */
  rest(): Buffer {
    const rest = this.#payload.subarray(this.#offset);
    this.#offset = this.#payload.length;
    return rest;
  }
}

/**
 * Splits a byte stream into frames. Chunks are kept as a list and joined only when a frame spans
 * them, so 100 MB of output in 64 KiB frames is never copied twice.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;

  /** Returns the complete frames; throws on a length no valid peer would send. */
  push(chunk: Buffer): Frame[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Frame[] = [];
    while (this.#buffered >= 4) {
      const length = this.#peekLength();
      if (length < 5 || length > maxPayloadBytes + 5) {
        throw new RangeError(`malformed frame length ${length}`);
      }
      if (this.#buffered < length + 4) break;
      const bytes = this.#take(length + 4);
      frames.push({
        type: bytes.readUInt8(4),
        id: bytes.readUInt32BE(5),
        payload: bytes.subarray(headerBytes),
      });
    }
    return frames;
  }

  #peekLength(): number {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= 4) return first.readUInt32BE(0);
    // Only the first four bytes are needed: joining every chunk here would be quadratic when
    // a large frame arrives in many small reads.
    const head = Buffer.alloc(4);
    let filled = 0;
    for (const chunk of this.#chunks) {
      filled += chunk.copy(head, filled, 0, Math.min(chunk.length, 4 - filled));
      if (filled === 4) break;
    }
    return head.readUInt32BE(0);
  }

  #take(count: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    let result: Buffer;
    if (first.length >= count) {
      result = first.subarray(0, count);
      if (first.length === count) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(count);
    } else {
      // Join just the chunks this frame spans; the rest stay as they are.
      let spanned = 0;
      let used = 0;
      while (used < count) used += (this.#chunks[spanned++] as Buffer).length;
      const joined = Buffer.concat(this.#chunks.slice(0, spanned), used);
      result = joined.subarray(0, count);
      this.#chunks =
        used > count
          ? [joined.subarray(count), ...this.#chunks.slice(spanned)]
          : this.#chunks.slice(spanned);
    }
    this.#buffered -= count;
    return result;
  }
}
