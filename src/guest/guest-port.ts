import { Duplex } from 'node:stream';
import { ConflictError, InvalidInputError, MagsError } from '../errors/mags-error.ts';
import type { GuestConnection } from './guest-connection.ts';
import { startExec } from './guest-execs.ts';
import { type ExecHandle, GuestError } from './guest-process.ts';
import { flowWindowBytes } from './protocol.ts';

/** The first agent that can connect to a port (EXEC flag bit 2). */
export const portProtocolVersion = 4;

/** ECONNREFUSED and ETIMEDOUT on Linux (asm-generic/errno.h). */
const connectionRefused = 111;
const timedOut = 110;

/**
 * Opens a byte stream to a TCP port on the sandbox's loopback through the agent (an EXEC with the
 * connect flag, docs/guest-protocol.md): no network reaches into the sandbox, and the stream is
 * flow-controlled by the same credit windows as a command's stdin and stdout. Resolves once the
 * agent has connected; rejects with a 502 `port_not_listening` when nothing listens there.
 */
export async function openGuestPort(connection: GuestConnection, port: number): Promise<Duplex> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidInputError(`Port ${port} is not a TCP port.`, {
      code: 'invalid_port',
      hint: 'Give a port from 1 to 65535.',
    });
  }
  if (connection.agentProtocolVersion < portProtocolVersion) {
    throw new ConflictError(
      `This sandbox's agent speaks guest protocol ${connection.agentProtocolVersion}, which cannot reach its ports.`,
      {
        code: 'agent_too_old',
        hint: 'The sandbox was started before this version of mags: stop and start it again.',
      },
    );
  }
  const handle = startExec(connection, {
    argv: [String(port)],
    env: {},
    cwd: '/',
    stdin: true,
    connect: true,
  }) as ExecHandle;
  try {
    await handle.started;
  } catch (error) {
    if (error instanceof GuestError && error.errno === connectionRefused) {
      throw new MagsError(`Nothing listens on port ${port} inside the sandbox.`, {
        code: 'port_not_listening',
        statusCode: 502,
        hint: `Start a server in the sandbox that listens on port ${port} (on 0.0.0.0, 127.0.0.1 or ::).`,
      });
    }
    if (error instanceof GuestError && error.errno === timedOut) {
      // The agent gives up after 5 s (native/agent.c CONNECT_TIMEOUT_SECONDS).
      throw new MagsError(
        `The server on port ${port} inside the sandbox does not accept connections.`,
        {
          code: 'port_not_accepting',
          statusCode: 502,
          hint: `Something listens on port ${port} but did not accept within 5 seconds: it is busy or stuck (its accept queue is full).`,
        },
      );
    }
    throw error;
  }
  return new GuestPortStream(handle, port);
}

/**
 * The port's stream: writes go to the relay's stdin (at most one window ahead of what the agent
 * took), reads come from its stdout. Looks enough like a socket for `http.request`'s
 * `createConnection` and an `http.Agent` (setTimeout, setNoDelay, setKeepAlive, ref, unref).
 */
class GuestPortStream extends Duplex {
  readonly #handle: ExecHandle;
  #pendingWrite: (() => void) | undefined;
  #timeoutMs = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(handle: ExecHandle, port: number) {
    super({ allowHalfOpen: true });
    this.#handle = handle;
    handle.onStdinTaken = () => this.#maybeContinueWriting();
    handle.stdout.on('data', (chunk: Buffer) => {
      this.#touch();
      if (!this.push(chunk)) handle.stdout.pause();
    });
    handle.stdout.on('end', () => this.push(null));
    const stderr: Buffer[] = [];
    handle.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    handle.exited.then(
      (status) => {
        if (status.exitCode !== 0 && !this.destroyed) {
          const text = Buffer.concat(stderr).toString('utf8').trim();
          this.destroy(
            new MagsError(
              `The connection to port ${port} inside the sandbox failed${text ? `: ${text}` : ''}.`,
              { code: 'port_connection_failed', statusCode: 502 },
            ),
          );
        }
      },
      (error: Error) => {
        if (!this.destroyed) this.destroy(error);
      },
    );
  }

  override _read(): void {
    this.#handle.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#touch();
    this.#handle.writeStdin(chunk);
    this.#pendingWrite = callback;
    this.#maybeContinueWriting();
  }

  override _final(callback: () => void): void {
    this.#handle.closeStdin();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#handle.onStdinTaken = undefined;
    try {
      // Ends the relay in the sandbox (its socket closes with it); a no-op once it exited.
      this.#handle.signal('SIGKILL');
    } catch {
      // The connection to the agent is gone: so is the relay.
    }
    this.#handle.stdout.destroy();
    callback(error);
  }

  setTimeout(timeoutMs: number, onTimeout?: () => void): this {
    this.#timeoutMs = timeoutMs;
    if (onTimeout) this.once('timeout', onTimeout);
    this.#touch();
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  // One window of stdin may be on its way; the writer waits for the agent's STDIN_ACK beyond it.
  #maybeContinueWriting(): void {
    const callback = this.#pendingWrite;
    if (callback && this.#handle.stdinBufferedBytes < flowWindowBytes) {
      this.#pendingWrite = undefined;
      callback();
    }
  }

  // An idle timeout like a socket's: `timeout` once no byte moved for `setTimeout`'s time.
  #touch(): void {
    clearTimeout(this.#timer);
    if (this.#timeoutMs > 0 && !this.destroyed) {
      this.#timer = setTimeout(() => this.emit('timeout'), this.#timeoutMs);
      this.#timer.unref();
    }
  }
}
