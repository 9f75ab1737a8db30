import { createMiddleware } from 'hono/factory';
import { tokenProtocolPrefix } from '../../api/websocket-protocols.ts';
import type { StateRepository } from '../../state/state-repository.ts';
import type { ServerEnv } from '../server-env.ts';
import { authenticate } from '../tokens.ts';

/**
 * Every `/v1` route but health needs a live token; the token's owner scopes everything after.
 * `acceptLocalOwner`: this is the host's local server (`mags server --local`), whose token has
 * the owner `local`; every other server refuses such a token.
 */
export function requireToken(
  repository: StateRepository,
  options: { acceptLocalOwner?: boolean } = {},
) {
  return createMiddleware<ServerEnv>(async (c, next) => {
    const header =
      c.req.header('authorization') ??
      (isWebSocketUpgrade(c.req.header('upgrade'))
        ? bearerFromWebSocketProtocols(c.req.header('sec-websocket-protocol'))
        : undefined);
    const token = await authenticate(repository, header, options);
    c.set('owner', token.owner);
    c.set('tokenId', token.id);
    c.set('admin', token.admin);
    await next();
  });
}

/** Only a WebSocket handshake carries the token in its subprotocols; any other request is refused with it there. */
function isWebSocketUpgrade(header: string | undefined): boolean {
  return header?.toLowerCase() === 'websocket';
}

/**
 * A browser's WebSocket offers its token as the subprotocol `mags-token.TOKEN` (it cannot send
 * an Authorization header): read only on an upgrade request, as if it were `Bearer TOKEN`.
 */
export function bearerFromWebSocketProtocols(header: string | undefined): string | undefined {
  const offered = header?.split(',').map((protocol) => protocol.trim()) ?? [];
  const token = offered.find((protocol) => protocol.startsWith(tokenProtocolPrefix));
  return token ? `Bearer ${token.slice(tokenProtocolPrefix.length)}` : undefined;
}
