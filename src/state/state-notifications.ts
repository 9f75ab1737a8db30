import { InvalidInputError } from '../errors/mags-error.ts';
import type { StateChannel } from './state-repository.ts';

/**
 * The longest payload `notify` takes, in UTF-8 bytes: PostgreSQL's bound ("the payload must be
 * shorter than 8000 bytes", https://www.postgresql.org/docs/current/sql-notify.html). SQLite's
 * in-process notifications keep the same bound, so code that works on one backend works on both.
 */
export const maxNotificationPayloadBytes = 7999;

/** A clear error for a payload PostgreSQL would refuse; nothing is sent. */
export function checkNotificationPayload(channel: StateChannel, payload: string): void {
  const bytes = Buffer.byteLength(payload, 'utf8');
  if (bytes <= maxNotificationPayloadBytes) return;
  throw new InvalidInputError(
    `The notification on ${channel} is ${bytes} bytes long; at most ${maxNotificationPayloadBytes} can be sent.`,
    {
      code: 'notification_too_long',
      hint: 'Notify an id (a job id, a host id) and let listeners read the rest from the state.',
    },
  );
}

/**
 * Calls one listener, so that a listener that throws is reported and neither breaks the other
 * listeners nor the connection that delivers to them.
 */
export function deliverNotification(
  channel: StateChannel,
  listener: (payload: string) => void,
  payload: string,
): void {
  try {
    listener(payload);
  } catch (error) {
    process.stderr.write(
      `mags: a listener on the ${channel} notifications threw: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
}
