import { createHash, randomBytes } from 'node:crypto';
import { AuthenticationError, InvalidInputError, NotFoundError } from '../errors/mags-error.ts';
import type { StateRepository, TokenRecord } from '../state/state-repository.ts';
import { isValidOwner, localOwner, validateOwner } from '../workspaces/owner-workspace.ts';

const tokenPattern = /^mags_[A-Za-z0-9_-]{32}$/;

/**
 * Tokens are 192 random bits, so a plain SHA-256 is enough to store them (no salt or slow hash
 * needed: there is nothing to brute-force), and lookup by hash needs no comparison of secrets.
 */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * A token for a real owner (`mags token create`). The `local` owner is the host itself, whose
 * workspaces keep their plain names and can therefore name any owner's (`alice.app`): no token
 * for it is made here, only by `createLocalServerToken`.
 */
export async function createToken(
  repository: StateRepository,
  owner: string,
  name: string,
  options: { admin?: boolean } = {},
): Promise<{ token: string; record: TokenRecord }> {
  validateOwner(owner);
  if (owner === localOwner) {
    throw new InvalidInputError(
      `The owner name "${localOwner}" is reserved for this host's own server.`,
      {
        code: 'owner_reserved',
        hint: 'Create the token for a real owner (mags token create --owner alice); add --admin for host-wide figures.',
      },
    );
  }
  return insertNewToken(repository, owner, name, options.admin ?? false);
}

/** The host's own server's token (`mags server --local`): owner `local`, admin. */
export function createLocalServerToken(
  repository: StateRepository,
  name: string,
): Promise<{ token: string; record: TokenRecord }> {
  return insertNewToken(repository, localOwner, name, true);
}

async function insertNewToken(
  repository: StateRepository,
  owner: string,
  name: string,
  admin: boolean,
): Promise<{ token: string; record: TokenRecord }> {
  const token = `mags_${randomBytes(24).toString('base64url')}`;
  const record: TokenRecord = {
    id: `tok_${randomBytes(6).toString('hex')}`,
    owner,
    name,
    hash: hashToken(token),
    createdAt: new Date().toISOString(),
    revokedAt: null,
    admin,
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

/** What the local server's tokens are named: `local-server-PID`. */
const localServerTokenPrefix = 'local-server-';

export const localServerTokenName = (pid: number) => `${localServerTokenPrefix}${pid}`;

/**
 * Revokes the tokens of local servers that are gone (killed, or stopped by an older mags that
 * left its token behind): `isRunning(pid)` says whether a server process still lives. Returns
 * how many were revoked.
 */
export async function revokeStaleLocalServerTokens(
  repository: StateRepository,
  isRunning: (pid: number) => boolean,
): Promise<number> {
  let revoked = 0;
  for (const token of await repository.listTokens(localOwner)) {
    if (token.revokedAt || !token.name.startsWith(localServerTokenPrefix)) continue;
    const pid = Number(token.name.slice(localServerTokenPrefix.length));
    if (Number.isSafeInteger(pid) && pid > 0 && isRunning(pid)) continue;
    if (await repository.revokeToken(token.id, new Date().toISOString())) revoked++;
  }
  return revoked;
}

/** The token of an `Authorization: Bearer TOKEN` header, or undefined for any other form. */
export function bearerToken(header: string): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(header)?.[1];
}

/**
 * The token record behind an `Authorization` header, or an AuthenticationError. A token for the
 * host's own owner `local` is accepted only by a server that is the host's local one
 * (`acceptLocalOwner`): on a public server sharing the same state.db it would be an admin token
 * that names every owner's workspaces.
 */
export async function authenticate(
  repository: StateRepository,
  header: string | undefined,
  options: { acceptLocalOwner?: boolean } = {},
): Promise<TokenRecord> {
  if (!header) throw new AuthenticationError('Missing API token.');
  const token = bearerToken(header);
  if (!token) throw new AuthenticationError('The Authorization header is not "Bearer <token>".');
  if (!tokenPattern.test(token)) throw new AuthenticationError('Invalid API token.');
  const record = await repository.findTokenByHash(hashToken(token));
  if (!record) throw new AuthenticationError('Invalid API token.');
  if (record.revokedAt) throw new AuthenticationError('This API token was revoked.');
  // Before owner `local` was reserved, `mags token create --owner local` made tokens that could
  // name every owner's workspaces (`alice.app`); only the host's own server holds one now.
  if (record.owner === localOwner && !record.admin) {
    throw new AuthenticationError(
      `API token ${record.id} is for the reserved owner "${localOwner}" and no longer accepted.`,
      {
        code: 'owner_reserved',
        hint: `Revoke it (mags token revoke ${record.id}) and create one for a real owner: mags token create --owner NAME.`,
      },
    );
  }
  if (record.owner === localOwner && !options.acceptLocalOwner) {
    throw new AuthenticationError(
      `API token ${record.id} belongs to this host's local server and is not accepted here.`,
      {
        code: 'local_token',
        hint: 'Use a token for a real owner with this server: mags token create --owner NAME.',
      },
    );
  }
  // A row written by hand (or by an older mags) with an owner that could name another's storage.
  if (record.owner !== localOwner && !isValidOwner(record.owner)) {
    throw new AuthenticationError(`API token ${record.id} has an invalid owner.`, {
      hint: `Revoke it (mags token revoke ${record.id}) and create a new one.`,
    });
  }
  return record;
}
