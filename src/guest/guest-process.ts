import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import { InvalidInputError, MagsError } from '../errors/mags-error.ts';
import { CreditedReadable } from './credited-readable.ts';
import {
  type ExecPayload,
  exitCodeSignaled,
  type Frame,
  FrameType,
  flowWindowBytes,
  PayloadReader,
  PayloadWriter,
} from './protocol.ts';

/** What to run: `env` is the command's complete environment (the agent's is not inherited). */
export type GuestExecRequest = ExecPayload;

export interface GuestExitStatus {
  /** The exit code, or null when a signal ended the command. */
  exitCode: number | null;
  /** The terminating signal's name (`SIGKILL`), or null. */
  signal: string | null;
}

/** Where a RESUMEd exec's replay starts (docs/guest-protocol.md, RESUMED). */
export interface GuestResumePoint {
  /** The command's pid in the sandbox. */
  pid: number;
  /**
   * Byte offsets of stdout and stderr the replay starts at: the offsets asked for, or more when
   * the agent no longer had bytes the host had acknowledged before it went away (a gap).
   */
  stdoutOffset: number;
  stderrOffset: number;
}

/** A durable exec the agent knows (LIST_EXECS). */
export interface GuestExecInfo {
  key: string;
  pid: number;
  /** The command has ended; its status waits for a host to RESUME it. */
  exited: boolean;
  /** Another open connection holds it. */
  attached: boolean;
  exitCode: number | null;
  signal: string | null;
  /** Bytes the command has written to each stream so far. */
  stdoutBytes: number;
  stderrBytes: number;
}

/** A command running in the guest. Output streams buffer from the start: no data is missed. */
export interface GuestProcess {
  /** The command's stdout (with `tty`, the terminal's output). Ends when the command exits. */
  readonly stdout: Readable;
  /** The command's stderr (empty with `tty`). */
  readonly stderr: Readable;
  /**
   * Resolves when the main process exits (after all its output has been delivered to the
   * streams). Rejects with a {@link GuestError} if it could not start (missing program, bad
   * cwd), or with a MagsError (`guest_closed`) if the connection dropped.
   */
  readonly exited: Promise<GuestExitStatus>;
  /** Queues stdin data (needs `stdin: true` or `tty`); sent as fast as the command reads it. */
  writeStdin(data: Buffer | string): void;
  /** Closes stdin after the queued data (with a terminal, sends ^D). */
  closeStdin(): void;
  /** Sends a signal to the command's whole process group. */
  signal(signal: number | NodeJS.Signals): void;
  /** Sets the terminal size (commands started with `tty`). */
  resize(rows: number, cols: number): void;
  /**
   * Settles once the stdin queued so far has been sent (at most one flow window is then in
   * flight at the agent), or the command has ended: a writer that awaits it between chunks
   * streams any amount of stdin in bounded memory.
   */
  stdinDrained?(): Promise<void>;
}

/** An error the guest agent reported (exec failed, file not found, protocol violation). */
export class GuestError extends MagsError {
  /** The errno the agent reported (e.g. 2 for ENOENT), 0 when none applies. */
  readonly errno: number;
  constructor(
    message: string,
    errno: number,
    code = 'guest_error',
    options: { statusCode?: number; hint?: string; retryable?: boolean } = {},
  ) {
    super(message, { code, ...options });
    this.errno = errno;
  }

  static fromFrame(frame: Frame, code?: string): GuestError {
    const errno = frame.payload.length >= 4 ? frame.payload.readUInt32BE(0) : 0;
    const message =
      frame.payload.subarray(4).toString('utf8') || 'the guest agent reported an error';
    return new GuestError(message, errno, code);
  }
}

/** How a process (or file transfer) talks back to its connection. */
export interface RequestChannel {
  send(type: FrameType, payload?: Buffer): void;
}

const stdinFrameBytes = 256 * 1024;

/**
 * The host's view of one exec. The client routes every frame with this exec's id to `onFrame`,
 * and calls `onClose` if the connection ends first; `done` tells it to forget the id.
 */
export class ExecHandle implements GuestProcess {
  readonly stdout: CreditedReadable;
  readonly stderr: CreditedReadable;
  readonly exited: Promise<GuestExitStatus>;
  readonly #channel: RequestChannel;
  readonly #acceptsStdin: boolean;
  readonly #done: () => void;
  #resolve: (status: GuestExitStatus) => void = () => {};
  #reject: (error: Error) => void = () => {};
  #finished = false;
  // Stdin not sent yet, and bytes sent that the agent has not yet handed to the command.
  #stdinQueue: Buffer[] = [];
  #stdinInFlight = 0;
  // 'closing': closeStdin was called but queued data is still ahead of the STDIN_CLOSE frame.
  #stdinState: 'open' | 'closing' | 'closed' = 'open';
  // Writers waiting for the queue to empty (stdinDrained).
  #drainWaiters: (() => void)[] = [];

  /** Resolves with the command's pid once STARTED came; rejects like `exited` when it did not start. */
  readonly started: Promise<number>;
  #onStarted: (pid: number) => void = () => {};
  /** Called when the agent took stdin (STDIN_ACK): a writer waiting for room may go on. */
  onStdinTaken: (() => void) | undefined;

  /** Settles once a RESUMEd exec's RESUMED frame came (never for a plain exec). */
  readonly resumed: Promise<GuestResumePoint>;
  #onResumed: (point: GuestResumePoint) => void = () => {};

  constructor(channel: RequestChannel, request: GuestExecRequest, done: () => void) {
    this.resumed = new Promise((resolve) => {
      this.#onResumed = resolve;
    });
    this.#channel = channel;
    this.#acceptsStdin = Boolean(request.stdin || request.tty);
    this.#done = done;
    const acknowledge = (stdoutBytes: number, stderrBytes: number) => {
      if (!this.#finished) {
        channel.send(
          FrameType.outputAck,
          new PayloadWriter().u32(stdoutBytes).u32(stderrBytes).toBuffer(),
        );
      }
    };
    this.stdout = new CreditedReadable((bytes) => acknowledge(bytes, 0));
    this.stderr = new CreditedReadable((bytes) => acknowledge(0, bytes));
    this.exited = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.exited.catch(() => {}); // a caller may only read the streams; it still sees the rejection
    this.started = new Promise((resolve, reject) => {
      this.#onStarted = resolve;
      this.exited.catch(reject);
    });
    this.started.catch(() => {});
  }

  /** Stdin queued here or sent and not yet taken by the command. */
  get stdinBufferedBytes(): number {
    let queued = this.#stdinInFlight;
    for (const chunk of this.#stdinQueue) queued += chunk.length;
    return queued;
  }

  onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.stdout:
        this.stdout.deliver(frame.payload);
        break;
      case FrameType.stderr:
        this.stderr.deliver(frame.payload);
        break;
      case FrameType.stdinAck:
        this.#stdinInFlight -= new PayloadReader(frame.payload).u32();
        this.#pumpStdin();
        this.onStdinTaken?.();
        break;
      case FrameType.exit: {
        const reader = new PayloadReader(frame.payload);
        const code = reader.u32();
        const signal = reader.u32();
        this.#finish();
        this.#resolve({
          exitCode: code === exitCodeSignaled ? null : code,
          signal: signal ? signalName(signal) : null,
        });
        break;
      }
      case FrameType.error:
        this.#finish();
        this.#reject(GuestError.fromFrame(frame, 'guest_exec_failed'));
        break;
      case FrameType.resumed: {
        const reader = new PayloadReader(frame.payload);
        this.#onResumed({
          pid: reader.u32(),
          stdoutOffset: reader.u64(),
          stderrOffset: reader.u64(),
        });
        break;
      }
      case FrameType.started:
        this.#onStarted(new PayloadReader(frame.payload).u32());
        break;
    }
  }

  onClose(error: Error): void {
    this.#finish();
    this.#reject(error);
  }

  writeStdin(data: Buffer | string): void {
    if (!this.#acceptsStdin) {
      throw new InvalidInputError('This command was started without stdin.', {
        hint: 'Pass stdin: true (or tty) to exec.',
      });
    }
    if (this.#finished || this.#stdinState !== 'open') return;
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.length > 0) this.#stdinQueue.push(bytes);
    this.#pumpStdin();
  }

  closeStdin(): void {
    if (this.#finished || this.#stdinState !== 'open') return;
    this.#stdinState = 'closing';
    this.#pumpStdin();
  }

  stdinDrained(): Promise<void> {
    if (this.#finished || this.#stdinQueue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  signal(signal: number | NodeJS.Signals): void {
    const number = typeof signal === 'number' ? signal : constants.signals[signal];
    if (!Number.isInteger(number) || number < 0 || number > 64) {
      throw new InvalidInputError(`Unknown signal ${String(signal)}.`);
    }
    if (!this.#finished)
      this.#channel.send(FrameType.signal, new PayloadWriter().u32(number).toBuffer());
  }

  resize(rows: number, cols: number): void {
    if (!this.#finished) {
      this.#channel.send(FrameType.resize, new PayloadWriter().u32(rows).u32(cols).toBuffer());
    }
  }

  // Sends queued stdin while the agent has room for it (its buffer is one window), then the
  // close once everything before it is out.
  #pumpStdin(): void {
    while (!this.#finished && this.#stdinQueue.length > 0) {
      const room = Math.min(flowWindowBytes - this.#stdinInFlight, stdinFrameBytes);
      if (room <= 0) return;
      const head = this.#stdinQueue[0] as Buffer;
      const chunk = head.subarray(0, room);
      if (chunk.length === head.length) this.#stdinQueue.shift();
      else this.#stdinQueue[0] = head.subarray(room);
      this.#stdinInFlight += chunk.length;
      this.#channel.send(FrameType.stdin, chunk);
    }
    if (!this.#finished && this.#stdinState === 'closing' && this.#stdinQueue.length === 0) {
      this.#stdinState = 'closed';
      this.#channel.send(FrameType.stdinClose);
    }
    if (this.#stdinQueue.length === 0) this.#wakeDrainWaiters();
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#stdinQueue = [];
    this.#wakeDrainWaiters();
    this.stdout.finish();
    this.stderr.finish();
    this.#done();
  }
}

export function signalName(number: number): string {
  const entry = Object.entries(constants.signals).find(([, value]) => value === number);
  return entry ? entry[0] : `SIG${number}`;
}
