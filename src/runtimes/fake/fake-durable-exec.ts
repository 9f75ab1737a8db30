import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { GuestError } from '../../guest/guest-process.ts';
import { flowWindowBytes } from '../../guest/protocol.ts';
import type { DurableExecInfo, ExecResult } from '../runtime.ts';
import { ExecConnection, type OutputStream } from './exec-connection.ts';
import { signalGroup } from './fake-process.ts';
import { KeptOutput } from './kept-output.ts';

/**
 * Output a detached exec keeps per stream before the command blocks on its next write
 * (RETAIN_LIMIT in native/agent.c); while a host holds it, one credit window.
 */
export const retainLimitBytes = 8 * 1024 * 1024;
const chunkBytes = 64 * 1024;
/** After the main process exited, how long output a background process holds open is waited for. */
const drainGraceMs = 100;

const streams = ['stdout', 'stderr'] as const;

/** Errnos the agent answers a refused EXEC or RESUME with (docs/guest-protocol.md). */
export const refusal = {
  unknownKey: () =>
    new GuestError(
      'no exec with this key (it never ran, or its end was already delivered)',
      2,
      'guest_exec_failed',
    ),
  held: () => new GuestError('the exec is attached to another connection', 16, 'guest_exec_failed'),
  /** FORGET of an exec a handle holds (the agent's EBUSY to FORGET). */
  heldForget: () => new GuestError('the exec is attached to an open connection', 16),
  keyInUse: () => new GuestError('an exec with this key exists', 17, 'guest_exec_failed'),
  beyondOutput: () =>
    new GuestError(
      'RESUME offset beyond the output the exec has produced',
      22,
      'guest_exec_failed',
    ),
};

/**
 * A command started with a key, as the guest agent keeps it (docs/guest-protocol.md, Durable
 * execs): it runs on when the handle that holds it detaches, its output is kept (every byte no
 * host acknowledged, bounded as the agent bounds it) and replayed to whoever resumes it from the
 * offsets they have, and an end nobody received is kept until someone does; an end delivered is
 * forgotten at once. Acknowledgement is the agent's: bytes the consumer has read, in the same
 * batches (`CreditedReadable`), so a host that read bytes but did not keep them sees a gap.
 */
export class DurableExec {
  readonly key: string;
  readonly pid: number;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #output = { stdout: new KeptOutput(), stderr: new KeptOutput() };
  readonly #forget: () => void;
  #connection: ExecConnection | undefined;
  /** The main process exited: its pipes are read to the end, whatever is kept. */
  #draining = false;
  /** Exited and drained: the end, waiting for a host when none holds it. */
  #status: ExecResult | undefined;
  #pumping = false;
  #pumpAgain = false;
  /** Forgotten (FORGET): nobody will resume it, so nothing it writes is kept. */
  #released = false;

  constructor(options: {
    key: string;
    child: ChildProcessWithoutNullStreams;
    /** The connection that started it (its handle). */
    connection: ExecConnection;
    /** Drops it from its sandbox once its end was delivered. */
    forget: () => void;
  }) {
    this.key = options.key;
    this.#child = options.child;
    this.pid = options.child.pid as number;
    this.#forget = options.forget;
    this.#connection = options.connection;
    options.connection.bind(this);
    const child = this.#child;
    for (const stream of streams) {
      child[stream].on('data', (chunk: Buffer) => {
        if (this.#released) return;
        this.#output[stream].append(chunk);
        this.#pump();
      });
    }
    child.on('error', () => {}); // it started (it has a pid): a later error changes nothing
    child.once('exit', (exitCode, signal) => {
      this.#draining = true;
      for (const stream of streams) child[stream].resume();
      // What it wrote before it exited is in the pipes; a background process may hold them open.
      const ended = streams.map(
        (stream) =>
          new Promise<void>((resolve) => {
            if (child[stream].readableEnded) resolve();
            child[stream].once('end', resolve).once('close', resolve);
          }),
      );
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, drainGraceMs);
      });
      void Promise.race([Promise.all(ended), grace]).then(() => {
        clearTimeout(timer);
        for (const stream of streams) child[stream].destroy();
        this.#status = { exitCode, signal };
        this.#pump();
      });
    });
  }

  info(): DurableExecInfo {
    return {
      key: this.key,
      pid: this.pid,
      exited: this.#status !== undefined,
      attached: this.#connection !== undefined,
      exitCode: this.#status?.exitCode ?? null,
      signal: this.#status?.signal ?? null,
      stdoutBytes: this.#output.stdout.end,
      stderrBytes: this.#output.stderr.end,
    };
  }

  /** RESUME from the offsets the caller has: refused while another handle holds it. */
  resume(owner: object, offsets: { stdoutOffset?: number; stderrOffset?: number }): ExecConnection {
    const connection = new ExecConnection(owner, { stdin: false });
    const asked = { stdout: offsets.stdoutOffset ?? 0, stderr: offsets.stderrOffset ?? 0 };
    if (this.#connection !== undefined) return connection.refuse(refusal.held());
    if (streams.some((stream) => asked[stream] > this.#output[stream].end)) {
      return connection.refuse(refusal.beyondOutput());
    }
    for (const stream of streams) {
      const kept = this.#output[stream];
      // Asked for less than was acknowledged: the replay starts higher (a gap the caller reports).
      if (asked[stream] > kept.base) kept.discard(asked[stream] - kept.base);
      kept.sent = kept.base;
    }
    connection.bind(this);
    this.#connection = connection;
    connection.resumedAt({
      pid: this.pid,
      stdoutOffset: this.#output.stdout.base,
      stderrOffset: this.#output.stderr.base,
    });
    // The replay comes after the answer, as frames over a connection do: a caller that reads
    // the streams once `resumed` settles misses nothing.
    setImmediate(() => this.#pump());
    return connection;
  }

  /** The handle `owner` let go: the command runs on, with its stdin closed (nobody can type). */
  detach(owner: object): void {
    const connection = this.#connection;
    if (connection?.owner !== owner) return;
    this.#connection = undefined;
    for (const stream of streams) this.#output[stream].sent = this.#output[stream].base;
    this.#child.stdin.end();
    connection.close();
    this.#pump();
  }

  /**
   * FORGET, by a host that will never resume it (its job was failed or deleted), while no handle
   * holds it: a running command is killed with its process group, and what it kept (output, an
   * end) is dropped at once, as the agent drops it; its key is free again.
   */
  release(): void {
    if (this.#connection !== undefined) throw refusal.heldForget();
    this.#released = true;
    if (this.#status === undefined) signalGroup(this.pid, 'SIGKILL');
    for (const stream of streams) {
      const kept = this.#output[stream];
      kept.discard(kept.keptBytes);
      // A pipe paused at the bound is read (and dropped) to its end, so the command can exit.
      this.#child[stream].resume();
    }
    this.#forget();
  }

  acknowledge(connection: ExecConnection, stream: OutputStream, bytes: number): void {
    if (connection !== this.#connection) return;
    const kept = this.#output[stream];
    kept.discard(Math.min(bytes, kept.sent - kept.base)); // only bytes sent can be consumed
    this.#pump();
  }

  writeStdin(connection: ExecConnection, data: Buffer | string): void {
    if (connection === this.#connection && this.#status === undefined) {
      this.#child.stdin.write(data);
    }
  }

  closeStdin(connection: ExecConnection): void {
    if (connection === this.#connection) this.#child.stdin.end();
  }

  signal(connection: ExecConnection, signal: NodeJS.Signals): void {
    if (connection === this.#connection && this.#status === undefined) {
      signalGroup(this.pid, signal);
    }
  }

  // Re-entrant calls (a delivery whose consumer acknowledges at once) run as another round.
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  #pumpOnce(): void {
    if (this.#released) return;
    const connection = this.#connection;
    const status = this.#status;
    if (connection) {
      for (const stream of streams) {
        const kept = this.#output[stream];
        // Within the credit window; an ended exec's output is bounded and all goes before EXIT.
        while (kept.sent < kept.end && (status || kept.sent - kept.base < flowWindowBytes)) {
          const room = status ? chunkBytes : flowWindowBytes - (kept.sent - kept.base);
          const chunk = kept.read(kept.sent, Math.min(chunkBytes, room));
          kept.sent += chunk.length;
          connection.deliver(stream, chunk);
        }
      }
      if (status) {
        this.#connection = undefined;
        this.#forget();
        connection.finish(status);
        return;
      }
    }
    if (this.#draining) return;
    const limit = connection ? flowWindowBytes : retainLimitBytes;
    for (const stream of streams) {
      const pipe = this.#child[stream];
      if (this.#output[stream].keptBytes >= limit) pipe.pause();
      else pipe.resume();
    }
  }
}
