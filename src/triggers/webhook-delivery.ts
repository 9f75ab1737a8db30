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
 * delivery id or signature seen before 409 (`webhook_replayed`). Only an accepted delivery is
 * recorded (its id and its signature: a captured delivery sent again under a new id is still a
 * replay); records older than twice the tolerance are pruned, since those would be stale anyway.
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
  let payload: unknown;
  try {
    payload = body.length === 0 ? null : JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new InvalidInputError('The webhook body is not JSON.', {
      code: 'invalid_json',
      hint: 'Send a JSON body (Content-Type: application/json).',
    });
  }
  await repository.pruneDeliveries(
    trigger.id,
    new Date(now.getTime() - 2 * webhookToleranceSeconds * 1000).toISOString(),
  );
  const fresh = await repository.recordDelivery(
    trigger.id,
    [`delivery:${delivery}`, `signature:${signature.trim()}`],
    now.toISOString(),
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
