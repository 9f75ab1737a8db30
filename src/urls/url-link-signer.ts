import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MagsError } from '../errors/mags-error.ts';

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

  /**
   * The signer of `secretPath`, making the secret on first use (a second process reads it). The
   * secret is written whole to a temporary file and then linked to its name, so no process ever
   * reads a partly written one; a file of any other size is refused, since a short key would let
   * anyone sign links.
   */
  static async open(secretPath: string): Promise<UrlLinkSigner> {
    const existing = await readFile(secretPath).catch(() => undefined);
    if (!existing) {
      await mkdir(dirname(secretPath), { recursive: true });
      // Its own temporary file (pid and random): nobody else writes to the inode that gets linked.
      const temporary = `${secretPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(temporary, randomBytes(secretBytes), { mode: 0o600 });
      try {
        // link(2) fails with EEXIST instead of replacing: two servers starting at once agree on
        // the one that was linked first.
        await link(temporary, secretPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        await unlink(temporary).catch(() => undefined);
      }
    }
    const secret = existing ?? (await readFile(secretPath));
    if (secret.length !== secretBytes) {
      throw new MagsError(
        `The sandbox URL secret ${secretPath} has ${secret.length} bytes, not ${secretBytes}: links signed with it could be forged.`,
        {
          code: 'url_secret_invalid',
          hint: `Remove ${secretPath} and start the server again: it makes a new secret (links signed before stop working).`,
        },
      );
    }
    const { mode } = await stat(secretPath);
    if ((mode & 0o077) !== 0) {
      process.emitWarning(
        `The sandbox URL secret ${secretPath} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it.`,
      );
    }
    return new UrlLinkSigner(secret);
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
    // One spelling per link: base64url's last character carries bits a decoder drops, so a
    // changed one can decode to the same signature (harmless, but a link is its exact text).
    if (given.toString('base64url') !== mac) return undefined;
    return { urlId, expiresAtMs: Number(expires) * 1000 };
  }

  #mac(urlId: string, expires: number): Buffer {
    return createHmac('sha256', this.#secret).update(`${urlId}.${expires}`).digest();
  }
}
