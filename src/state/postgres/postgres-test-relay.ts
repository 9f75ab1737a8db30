import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay from a local port to host:port, for tests of a database outage without stopping
 * the shared test server: `down()` cuts every connection and refuses new ones (the port is
 * closed), `up()` accepts them again on the same port.
 */
export async function startTestRelay(host: string, port: number) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let relayPort = 0;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const listening = createServer((client) => {
        const upstream = createConnection(port, host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {});
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server = listening;
      listening.once('error', reject);
      listening.listen(relayPort, '127.0.0.1', () => {
        relayPort = (listening.address() as { port: number }).port;
        resolve();
      });
    });
  const shut = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });
  await open();
  return {
    get port() {
      return relayPort;
    },
    down: shut,
    up: open,
    close: shut,
  };
}
