/**
 * A TCP port on 127.0.0.1 relaying each connection to a unix socket: it stands for a remote host
 * forwarding to a guest agent (a pod's agent port, a host agent in front of its sandboxes), so a
 * test can reach an agent over TCP and drop that TCP connection as a network would.
 */
import { type AddressInfo, createConnection, createServer, type Socket } from 'node:net';

export interface TcpRelay {
  host: string;
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Cuts every open connection at the relay (the client sees its TCP connection drop). */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(socketPath: string): Promise<TcpRelay> {
  const open = new Set<Socket>();
  let accepted = 0;
  const server = createServer((downstream) => {
    accepted++;
    open.add(downstream);
    const upstream = createConnection(socketPath);
    const end = () => {
      open.delete(downstream);
      downstream.destroy();
      upstream.destroy();
    };
    for (const socket of [downstream, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    get accepted() {
      return accepted;
    },
    dropAll() {
      for (const socket of open) socket.destroy();
    },
    close() {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
