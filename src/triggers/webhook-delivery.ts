import { maxWebhookBodyBytes, webhookToleranceSeconds } from '../api/triggers.ts';
import { InvalidInputError } from '../errors/mags-error.ts';
import type { StateRepository, TriggerRecord } from '../state/state-repository.ts';
import {
  badSignature,
  hookNotFound,
  replayedDelivery,
  staleTimestamp,
  webhookTooLarge,
} from './trigger-errors.ts';
import { verifyWebhookSignature } from './webhook-signature.ts';

export interface WebhookRequest {
  /** A request header by its lower-case name. */
  header(name: string): string | undefined;
  body: ReadableStream<Uint8Array> | null;
}

/**
 * Checks a delivery to `POST /v1/hooks/{id}` and returns its payload, or throws what to answer:
 * an unknown hook 404; a body over 256 KiB 413 (read no further); a missing or wrong signature
 * 401; a timestamp more than 300 s off 401 (`webhook_stale`); a body that is not JSON 400; a
 * delivery id or signature seen before 409 (`webhook_replayed`); a body nested deeper than
 * `maxPayloadDepth` 400 (nothing recorded). Only an accepted delivery is recorded (its id and its
 * signature, with its signed time: a captured delivery sent again under a new id is still a
 * replay); records signed before now − tolerance are pruned, since those would be stale anyway.
 * Two identical deliveries in the same second (same id or same body, so the same signature) are
 * one delivery: the second is a 409.
 */
export async function receiveWebhook(
  trigger: TriggerRecord | undefined,
  request: WebhookRequest,
  repository: StateRepository,
  now: Date = new Date(),
): Promise<unknown> {
  if (trigger?.kind !== 'webhook' || !trigger.secret) throw hookNotFound();
  const declared = Number(request.header('content-length'));
  if (Number.isFinite(declared) && declared > maxWebhookBodyBytes) {
    throw webhookTooLarge(maxWebhookBodyBytes);
  }
  const body = await readLimited(request.body, maxWebhookBodyBytes);
  const signature = request.header('x-mags-signature');
  const timestamp = request.header('x-mags-timestamp');
  if (!signature || !timestamp) {
    throw badSignature(`is missing (${!signature ? 'X-Mags-Signature' : 'X-Mags-Timestamp'})`);
  }
  if (!verifyWebhookSignature(trigger.secret, signature, timestamp, body)) {
    throw badSignature('does not match the body and timestamp');
  }
  const seconds = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || !Number.isSafeInteger(seconds)) {
    throw badSignature('has a timestamp that is not unix seconds');
  }
  const skewSeconds = seconds - Math.floor(now.getTime() / 1000);
  if (Math.abs(skewSeconds) > webhookToleranceSeconds) {
    throw staleTimestamp(skewSeconds, webhookToleranceSeconds);
  }
  const delivery = request.header('x-mags-delivery')?.trim();
  if (!delivery || delivery.length > 200) {
    throw new InvalidInputError('X-Mags-Delivery is missing (or over 200 characters).', {
      hint: 'Send a unique id per delivery (a UUID): replays are refused by it.',
    });
  }
  const text = Buffer.from(body).toString('utf8');
  const depth = nestingDepth(text);
  if (depth > maxPayloadDepth) {
    throw new InvalidInputError(
      `The webhook body nests ${depth} levels deep (at most ${maxPayloadDepth}).`,
      { code: 'payload_too_deep', hint: 'Send a flatter JSON body.' },
    );
  }
  let payload: unknown;
  try {
    payload = body.length === 0 ? null : JSON.parse(text);
  } catch {
    throw new InvalidInputError('The webhook body is not JSON.', {
      code: 'invalid_json',
      hint: 'Send a JSON body (Content-Type: application/json).',
    });
  }
  // A delivery signed before now − tolerance is refused as stale whatever the records say, so a
  // record is kept exactly while its signed time could still pass (one second more for rounding).
  await repository.pruneDeliveries(
    trigger.id,
    new Date(now.getTime() - (webhookToleranceSeconds + 1) * 1000).toISOString(),
  );
  const fresh = await repository.recordDelivery(
    trigger.id,
    [`delivery:${delivery}`, `signature:${signature.trim()}`],
    new Date(seconds * 1000).toISOString(),
  );
  if (!fresh) throw replayedDelivery(delivery);
  return payload;
}

/** The body, or a 413 as soon as it passes `maxBytes` (the rest is not read). */
async function readLimited(
  stream: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array> {
  if (!stream) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw webhookTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** The deepest a webhook body's arrays and objects may nest (rendering it recurses that deep). */
export const maxPayloadDepth = 400;

/** How deep the JSON text's brackets nest (strings skipped): checked before it is parsed. */
export function nestingDepth(json: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < json.length; index++) {
    const code = json.charCodeAt(index);
    if (inString) {
      if (code === 0x5c)
        index++; // a backslash: the next character is escaped
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x5b || code === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (code === 0x5d || code === 0x7d) depth--;
  }
  return deepest;
}
