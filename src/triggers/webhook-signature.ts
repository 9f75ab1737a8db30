import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A webhook trigger's signing secret: 32 random bytes, shown once when it is made. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/**
 * `sha256=<hex>`: HMAC-SHA256 with the trigger's secret of `<timestamp>.<raw body>`, the
 * timestamp in unix seconds (what `X-Mags-Signature` carries; the timestamp is signed so an old
 * delivery cannot be sent again with a new one).
 */
export function signWebhook(secret: string, timestamp: string, body: Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`);
  hmac.update(body);
  return `sha256=${hmac.digest('hex')}`;
}

/**
 * Whether `header` is the signature of this delivery. Compared in constant time
 * (`timingSafeEqual` on buffers of equal length), so the time taken tells an attacker nothing
 * about how much of a guess was right; a header of another length is refused before comparing.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  timestamp: string,
  body: Uint8Array,
): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}
