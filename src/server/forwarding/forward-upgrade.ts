import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { writeRawError } from '../url-proxy-errors.ts';
import { relayUpgrade, writeHandshake } from '../url-upgrades.ts';
import { connectToHost, hostHeaders } from './forward-http.ts';
import type { HostTarget } from './host-forwarder.ts';

/**
 * Passes an upgrade request (a shell's WebSocket, a sandbox URL's) to the host `target`: the
 * handshake as the client sent it plus the forwarded-by header naming `from`, then raw bytes both
 * ways; the host answers 101 (or refuses) itself. A host that cannot be reached is a 503 on the
 * socket. `onClose` runs once the client's connection has closed (or at once, when refused).
 */
export async function forwardUpgrade(
  target: HostTarget,
  from: string,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options: { connectTimeoutMs: number; onClose?: () => void },
): Promise<void> {
  const onClose = options.onClose ?? (() => {});
  let upstream: Duplex;
  try {
    upstream = await connectToHost(target, options.connectTimeoutMs);
  } catch (error) {
    onClose();
    writeRawError(socket, error);
    return;
  }
  const headers = hostHeaders(request.headers, from);
  headers.connection = 'Upgrade';
  if (request.headers.upgrade) headers.upgrade = request.headers.upgrade;
  const prefix = new URL(target.address).pathname.replace(/\/$/, '');
  writeHandshake(upstream, `${request.method} ${prefix}${request.url ?? '/'}`, headers, head);
  relayUpgrade(socket, upstream, onClose);
}
