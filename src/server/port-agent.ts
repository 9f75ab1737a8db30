import { Agent } from 'node:http';
import type { Duplex } from 'node:stream';
import { CapabilityUnsupportedError } from '../errors/mags-error.ts';
import type { Sandbox } from '../runtimes/runtime.ts';

/**
 * Connections to one sandbox port the proxy keeps at once (more requests queue for one): each is
 * a relay process in the sandbox, and the agent runs at most 256 processes (native/agent.c
 * MAX_PROCESSES), which the owner's own commands need too.
 */
export const maxConnectionsPerPort = 32;

/** An http.Agent whose connections are streams to a sandbox's port through its agent. */
export class PortAgent extends Agent {
  readonly sandbox: Sandbox;
  readonly #port: number;
  readonly #runtime: string;

  constructor(sandbox: Sandbox, port: number, runtime: string) {
    // Idle connections end after a while: each holds a relay process in the sandbox.
    super({
      keepAlive: true,
      maxSockets: maxConnectionsPerPort,
      maxFreeSockets: 8,
      timeout: 30_000,
    });
    this.sandbox = sandbox;
    this.#port = port;
    this.#runtime = runtime;
  }

  override createConnection(
    _options: unknown,
    callback: (error: Error | null, stream?: Duplex) => void,
  ): undefined {
    openPortOf(this.sandbox, this.#port, this.#runtime).then(
      (stream) => callback(null, stream),
      (error: Error) => callback(error),
    );
    return undefined;
  }
}

/** A stream to `port` inside `sandbox` (through its agent); rejects when the runtime has none. */
export async function openPortOf(sandbox: Sandbox, port: number, runtime: string): Promise<Duplex> {
  if (!sandbox.openPort) throw new CapabilityUnsupportedError(runtime, 'ports');
  return sandbox.openPort(port);
}
