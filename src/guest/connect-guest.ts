import { createConnection, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
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
  const stream = transport.kind === 'stream' ? transport.stream : await open(transport);
  return GuestClient.connect(stream, options);
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
