import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { OwnerStreams } from '../owner-streams.ts';
import { releasedWhenDone } from '../released-when-done.ts';
import type { ServerEnv } from '../server-env.ts';

/**
 * The requests whose answer lasts as long as its client stays (all GET): the followed lists,
 * a ticket's or plan's followed events, a job's followed log, the pool's samples, the shell,
 * a tree copied out.
 */
const longLivedRoutes: { path: RegExp; whenFollowing: boolean }[] = [
  { path: /^\/v1\/(?:tickets|jobs|sandboxes|plans|workspaces)$/, whenFollowing: true },
  { path: /^\/v1\/(?:tickets|plans)\/[^/]+\/events$/, whenFollowing: true },
  { path: /^\/v1\/jobs\/[^/]+\/logs$/, whenFollowing: true },
  { path: /^\/v1\/pool\/events$/, whenFollowing: false },
  { path: /^\/v1\/sandboxes\/[^/]+\/shell$/, whenFollowing: false },
  // A tree copied out: tar runs in the sandbox for as long as the client reads.
  { path: /^\/v1\/(?:sandboxes|workspaces)\/[^/]+\/archive$/, whenFollowing: false },
];

export function isLongLived(method: string, path: string, follow: string | undefined): boolean {
  if (method !== 'GET') return false;
  const following = follow === 'true' || follow === '1';
  return longLivedRoutes.some(
    (route) => route.path.test(path) && (following || !route.whenFollowing),
  );
}

/**
 * Counts each long-lived answer against its owner's limit (OwnerStreams) from before the route
 * subscribes to anything until the answer ends: its body read to the end or cancelled (the
 * client went away), or for the shell, its connection closed. After the token check.
 */
export function limitOpenStreams(streams: OwnerStreams) {
  return createMiddleware<ServerEnv>(async (c, next) => {
    if (!isLongLived(c.req.method, c.req.path, c.req.query('follow'))) return next();
    const release = streams.open(c.var.owner); // a 429 when the owner holds the most already
    try {
      await next();
    } catch (error) {
      release();
      throw error;
    }
    heldUntilDone(c, release);
  });
}

function heldUntilDone(c: Context<ServerEnv>, release: () => void): void {
  const response = c.res;
  if (c.error || !response.ok) {
    release();
    return;
  }
  if (response.body) {
    c.res = new Response(releasedWhenDone(response.body, release), response);
    return;
  }
  // A WebSocket handshake answered: the shell lasts as long as the upgraded connection.
  const socket = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket;
  if (!socket || socket.destroyed) release();
  else socket.once('close', release);
}
