import { createMiddleware } from 'hono/factory';
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
    const token = await authenticate(repository, c.req.header('authorization'), options);
    c.set('owner', token.owner);
    c.set('tokenId', token.id);
    c.set('admin', token.admin);
    await next();
  });
}
