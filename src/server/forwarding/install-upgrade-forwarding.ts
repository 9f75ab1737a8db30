import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { bearerFromWebSocketProtocols } from '../middleware/authenticate.ts';
import type { ServerServices } from '../server-env.ts';
import { authenticate } from '../tokens.ts';
import { writeRawError } from '../url-proxy-errors.ts';
import { forwardUpgrade } from './forward-upgrade.ts';
import { forwardedByHeader, type HostForwarder } from './host-forwarder.ts';

const shellPath = /^\/v1\/sandboxes\/([^/?]+)\/shell(?:\?|$)/;

/**
 * Upgrades of the API (a sandbox's shell WebSocket) for a sandbox held by another host go to
 * that host before the app sees them: the token is checked here first (its owner must hold the
 * sandbox: another owner's is not found, and goes on to be refused here), then the bytes are
 * piped both ways. Every other upgrade goes on to the listeners installed before.
 */
export function installUpgradeForwarding(
  server: Server,
  services: Pick<ServerServices, 'repository' | 'acceptLocalOwner' | 'streams'>,
  forwarder: HostForwarder,
): void {
  const listeners = server.listeners('upgrade') as ((...args: unknown[]) => void)[];
  server.removeAllListeners('upgrade');
  const passOn = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    for (const listener of listeners) listener(request, socket, head);
  };
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const shell = shellPath.exec(request.url ?? '/');
    if (!shell) {
      passOn(request, socket, head);
      return;
    }
    void (async () => {
      let target: Awaited<ReturnType<HostForwarder['forSandbox']>>;
      let owner: string | undefined;
      try {
        const header =
          request.headers.authorization ??
          bearerFromWebSocketProtocols(request.headers['sec-websocket-protocol']);
        const token = await authenticate(services.repository, header, {
          acceptLocalOwner: services.acceptLocalOwner,
        }).catch(() => undefined); // refused by the app, as any request without a token
        owner = token?.owner;
        const forwardedBy = request.headers[forwardedByHeader];
        target = token
          ? await forwarder.forSandbox(
              token.owner,
              decodeSegment(shell[1] as string),
              Array.isArray(forwardedBy) ? forwardedBy[0] : forwardedBy,
            )
          : undefined;
      } catch (error) {
        writeRawError(socket, error);
        return;
      }
      if (!target || !owner) {
        passOn(request, socket, head);
        return;
      }
      // A shell is a long-lived answer of its owner's here too, as when it runs on this host.
      let release: () => void;
      try {
        release = services.streams?.open(owner) ?? (() => {});
      } catch (error) {
        writeRawError(socket, error);
        return;
      }
      await forwardUpgrade(target, forwarder.host, request, socket, head, {
        connectTimeoutMs: forwarder.connectTimeoutMs,
        onClose: release,
      });
    })();
  });
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // the route refuses the name
  }
}
