/**
 * What the trigger tests share: a template for the end-to-end fixture project, signed webhook
 * deliveries, and waiting for a trigger's firings (a schedule fires on its own time).
 */
import { randomUUID } from 'node:crypto';
import type { TriggerFiring } from '../../src/api/triggers.ts';
import type { Mags } from '../../src/sdk/mags.ts';
import { signWebhook } from '../../src/triggers/webhook-signature.ts';
import { sumCheck } from './end-to-end-tickets.ts';

/** A ticket.md for the fixture project `calc`, worked by `model`. */
export function calcTemplate(model: string, title = 'Issue: {{payload.issue.title}}'): string {
  return [
    '---',
    `title: "${title}"`,
    `model: ${model}`,
    'criteria:',
    '  - text: sum adds',
    `    check: ${JSON.stringify(sumCheck)}`,
    '---',
    'Reported by {{payload.issue.user}}:',
    '{{payload.issue.body}}',
    '',
  ].join('\n');
}

/** Posts a signed delivery to `/v1/hooks/{id}`; `change` alters what is sent after signing. */
export async function deliver(
  url: string,
  triggerId: string,
  secret: string,
  body: string | Buffer,
  options: { timestamp?: number; delivery?: string; signature?: string } = {},
): Promise<Response> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return fetch(`${url}/v1/hooks/${triggerId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-mags-signature': options.signature ?? signWebhook(secret, timestamp, bytes),
      'x-mags-timestamp': timestamp,
      'x-mags-delivery': options.delivery ?? randomUUID(),
    },
    body: bytes,
  });
}

/** Waits until the trigger's firings satisfy `done` (polling; a test's own timeout bounds it). */
export async function waitForFirings(
  mags: Mags,
  trigger: string,
  done: (firings: TriggerFiring[]) => boolean,
): Promise<TriggerFiring[]> {
  for (;;) {
    const firings = await mags.triggers.firings(trigger, { limit: 1000 });
    if (done(firings)) return firings;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
