import { createConnection, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { MagsError } from '../errors/mags-error.ts';
import { GuestClient } from './guest-client.ts';

/**
 * Where a guest agent's byte stream comes from. The protocol (docs/guest-protocol.md) needs one
 * reliable, ordered byte stream and nothing else, so every runtime's data plane is a GuestClient
 * over one of these: the namespace runtime's socketpair (`stream`) or its sandbox's
 * `run/ID/agent.sock` (`socketPath`); a pod's agent port, or a relay on a remote host (`tcp`);
 * a microVM's virtio-serial or vsock device, opened by its runtime (`stream`).
 */
export type GuestTransport =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'stream'; stream: Duplex };

export interface ConnectGuestOptions {
  /** How long the agent may take to say HELLO once connected (default 10 s). */
  helloTimeoutMs?: number;
}

/**
 * Connects to a guest agent over `transport` and waits for its HELLO. Rejects with a MagsError:
 * `guest_unreachable` (nothing accepts the connection: no socket, a refused port), or what
 * `GuestClient.connect` rejects with (`guest_timeout`, `guest_closed`, `guest_protocol`).
 */
export async function connectGuest(
  transport: GuestTransport,
  options: ConnectGuestOptions = {},
): Promise<GuestClient> {
  if (transport.kind === 'stream') return GuestClient.connect(transport.stream, options);
  const socket = await open(transport);
  // A socket this call opened is its to close when the agent never says HELLO.
  return GuestClient.connect(socket, options).catch((error: unknown) => {
    socket.destroy();
    throw error;
  });
}

/**
 * Connects to a unix socket an agent is served on, trying again until `timeoutMs`: while nothing
 * listens there yet (`guest_unreachable`, a program still starting; `gone` stops the wait), and,
 * with `helloTryMs`, after a try that hears no HELLO in that time. The second is for a microVM's
 * virtio-serial port: a host that comes right after another left can be too quick for the agent
 * (the guest driver gets "host closed" and "host open" back to back, the agent's port never reads
 * EOF, and no HELLO comes); hanging up is a hang-up the agent does see, after which it opens its
 * port again (docs/guest-protocol.md, `--port`).
 */
export async function connectGuestRetrying(
  socketPath: string,
  options: { timeoutMs: number; helloTryMs?: number; gone?: () => boolean },
): Promise<GuestClient> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    const left = Math.max(1, deadline - performance.now());
    try {
      return await connectGuest(
        { kind: 'unix', socketPath },
        { helloTimeoutMs: Math.min(left, options.helloTryMs ?? left) },
      );
    } catch (error) {
      const code = error instanceof MagsError ? error.code : undefined;
      const again =
        code === 'guest_unreachable' ||
        (code === 'guest_timeout' && options.helloTryMs !== undefined);
      if (!again || options.gone?.() || performance.now() > deadline) throw error;
      await sleep(code === 'guest_unreachable' ? 20 : 250);
    }
  }
}

function open(transport: Exclude<GuestTransport, { kind: 'stream' }>): Promise<Socket> {
  const socket =
    transport.kind === 'unix'
      ? createConnection(transport.socketPath)
      : // Frames are small and often interactive (a keystroke, an ack): no Nagle delay.
        createConnection({ host: transport.host, port: transport.port, noDelay: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: Error) =>
      reject(
        new MagsError(`Cannot reach the guest agent at ${describeGuestTransport(transport)}.`, {
          code: 'guest_unreachable',
          retryable: true,
          cause: error,
        }),
      );
    socket.once('error', onError);
  });
}

/** The transport in a few words, for messages. */
function describeGuestTransport(transport: GuestTransport): string {
  if (transport.kind === 'unix') return transport.socketPath;
  if (transport.kind === 'tcp') return `${transport.host}:${transport.port}`;
  return 'a byte stream';
}
