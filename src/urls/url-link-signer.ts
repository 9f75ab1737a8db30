import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A signed link's parts, once its signature checked out (its expiry is the caller's to judge). */
export interface VerifiedLink {
  urlId: string;
  expiresAtMs: number;
}

const secretBytes = 32;
const linkPattern = /^(url_[0-9a-f]{16})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/**
 * Signs and checks the links that open a private sandbox URL without a token: `ID.EXPIRES.MAC`,
 * the MAC an HMAC-SHA256 of `ID.EXPIRES` (seconds since the epoch) under a server secret kept in
 * the state directory (mode 0600), never in a URL record: a copy of state.db makes no links.
 */
export class UrlLinkSigner {
  readonly #secret: Buffer;

  constructor(secret: Buffer) {
    this.#secret = secret;
  }

  /** The signer of `secretPath`, making the secret on first use (a second process reads it). */
  static async open(secretPath: string): Promise<UrlLinkSigner> {
    const existing = await readFile(secretPath).catch(() => undefined);
    if (existing?.length === secretBytes) return new UrlLinkSigner(existing);
    await mkdir(dirname(secretPath), { recursive: true });
    try {
      // `wx`: two servers starting at once agree on the one that was written first.
      await writeFile(secretPath, randomBytes(secretBytes), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    return new UrlLinkSigner(await readFile(secretPath));
  }

  sign(urlId: string, expiresAtMs: number): string {
    const expires = Math.floor(expiresAtMs / 1000);
    return `${urlId}.${expires}.${this.#mac(urlId, expires).toString('base64url')}`;
  }

  /** The link's URL and expiry when its signature is right; undefined for anything else. */
  verify(link: string): VerifiedLink | undefined {
    const match = linkPattern.exec(link);
    if (!match) return undefined;
    const [, urlId, expires, mac] = match as unknown as [string, string, string, string];
    const expected = this.#mac(urlId, Number(expires));
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return { urlId, expiresAtMs: Number(expires) * 1000 };
  }

  #mac(urlId: string, expires: number): Buffer {
    return createHmac('sha256', this.#secret).update(`${urlId}.${expires}`).digest();
  }
}
