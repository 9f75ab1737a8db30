import { createHash, randomBytes } from 'node:crypto';
import { AuthenticationError, NotFoundError } from '../errors/mags-error.ts';
import { validateOwner } from '../jobs/owner-workspace.ts';
import type { StateRepository, TokenRecord } from '../state/state-repository.ts';

const tokenPattern = /^mags_[A-Za-z0-9_-]{32}$/;

/**
 * Tokens are 192 random bits, so a plain SHA-256 is enough to store them (no salt or slow hash
 * needed: there is nothing to brute-force), and lookup by hash needs no comparison of secrets.
 */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export async function createToken(
  repository: StateRepository,
  owner: string,
  name: string,
): Promise<{ token: string; record: TokenRecord }> {
  validateOwner(owner);
  const token = `mags_${randomBytes(24).toString('base64url')}`;
  const record: TokenRecord = {
    id: `tok_${randomBytes(6).toString('hex')}`,
    owner,
    name,
    hash: hashToken(token),
    createdAt: new Date().toISOString(),
    revokedAt: null,
  };
  await repository.insertToken(record);
  return { token, record };
}

export async function revokeToken(repository: StateRepository, id: string): Promise<void> {
  if (!(await repository.revokeToken(id, new Date().toISOString()))) {
    throw new NotFoundError(`No live token ${JSON.stringify(id)}.`, {
      code: 'token_not_found',
      hint: 'mags token list shows the ids.',
    });
  }
}

/** The token record behind an `Authorization` header, or an AuthenticationError. */
export async function authenticate(
  repository: StateRepository,
  header: string | undefined,
): Promise<TokenRecord> {
  if (!header) throw new AuthenticationError('Missing API token.');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new AuthenticationError('The Authorization header is not "Bearer <token>".');
  const token = match[1] as string;
  if (!tokenPattern.test(token)) throw new AuthenticationError('Invalid API token.');
  const record = await repository.findTokenByHash(hashToken(token));
  if (!record) throw new AuthenticationError('Invalid API token.');
  if (record.revokedAt) throw new AuthenticationError('This API token was revoked.');
  return record;
}
