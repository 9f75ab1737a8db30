import { MagsError } from '../errors/mags-error.ts';
import { authenticate } from '../server/tokens.ts';
import type { SandboxUrlRecord, StateRepository } from '../state/state-repository.ts';
import type { UrlLinkSigner } from './url-link-signer.ts';

/** A request the proxy refuses, with the status and words it answers with. */
export class UrlAccessError extends MagsError {
  constructor(statusCode: number, message: string, hint?: string) {
    super(message, { code: 'url_access', statusCode, ...(hint ? { hint } : {}) });
  }
}

/** The credentials a request carries: its Authorization header, signed links from query or cookies. */
export interface UrlCredentials {
  authorization: string | undefined;
  links: string[];
}

/** Who let the request in, so the proxy strips that credential (and only it) before forwarding. */
export interface UrlAccess {
  record: SandboxUrlRecord;
  via: 'public' | 'token' | 'link';
  /** The link that let it in (`via: 'link'`), for the cookie of its first visit. */
  link?: { value: string; expiresAtMs: number };
}

const notFound = () =>
  new UrlAccessError(404, 'No such sandbox URL.', 'mags url list shows the URLs you have.');

/**
 * Whether a request may use a URL. `records` are the URL's live records (one for the path form;
 * for the host form, the owner's records of that sandbox and port). What is refused says as
 * little as it must: another owner's token, a revoked URL or a link of another URL are a 404,
 * the same as a URL that never was; a request with no credential is a 401 whether or not the
 * URL exists; only a link whose signature is right learns that it expired (410).
 */
export async function decideUrlAccess(
  records: SandboxUrlRecord[],
  credentials: UrlCredentials,
  parts: { repository: StateRepository; signer: UrlLinkSigner; acceptLocalOwner: boolean },
  nowMs = Date.now(),
): Promise<UrlAccess> {
  const live = records.filter((record) => record.revokedAt === null);
  const expired = (record: SandboxUrlRecord) =>
    record.expiresAt !== null && Date.parse(record.expiresAt) <= nowMs;
  const open = live.find((record) => record.public && !expired(record));
  if (open) return { record: open, via: 'public' };
  // Only a mags token is the proxy's: any other Authorization (the app's own) is left for the app.
  if (credentials.authorization && /^Bearer\s+mags_/i.test(credentials.authorization)) {
    const token = await authenticate(parts.repository, credentials.authorization, {
      acceptLocalOwner: parts.acceptLocalOwner,
    });
    const owned = live.filter((record) => record.owner === token.owner);
    if (owned.length === 0) throw notFound();
    const usable = owned.find((record) => !expired(record));
    if (!usable) {
      throw new UrlAccessError(
        410,
        `This sandbox URL expired at ${(owned[0] as SandboxUrlRecord).expiresAt}.`,
        'Make a new one: mags url NAME PORT.',
      );
    }
    return { record: usable, via: 'token' };
  }
  for (const value of credentials.links) {
    const link = parts.signer.verify(value);
    const record = link && live.find((candidate) => candidate.id === link.urlId);
    if (!link || !record) continue;
    if (link.expiresAtMs <= nowMs || expired(record)) {
      throw new UrlAccessError(
        410,
        `This link expired at ${new Date(Math.min(link.expiresAtMs, Date.parse(record.expiresAt ?? '') || Infinity)).toISOString()}.`,
        'Ask the sandbox owner for a new one (mags url NAME PORT --expires 1h).',
      );
    }
    return { record, via: 'link', link: { value, expiresAtMs: link.expiresAtMs } };
  }
  if (credentials.links.length > 0) throw notFound();
  throw new UrlAccessError(
    401,
    'This sandbox URL is private.',
    "Send the owner's token (Authorization: Bearer TOKEN), or open a signed link (mags url NAME PORT --expires 1h prints one).",
  );
}
