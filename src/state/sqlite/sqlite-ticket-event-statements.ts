import type { Evidence } from '../../api/tickets.ts';
import { toTicketEvent } from '../rows/ticket-event-row.ts';
import type { TicketEventMethods } from '../state-method-groups.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

/** A ticket's append-only events, each attempt's evidence, and the approved result's bundle. */
export function sqliteTicketEventStatements({
  prepared,
  transaction,
}: SqliteDatabase): TicketEventMethods {
  const lastEventId = prepared(
    'SELECT COALESCE(MAX(id), 0) AS id FROM ticket_events WHERE ticket_id = ?',
  );
  const insertEvent = prepared(
    'INSERT INTO ticket_events (ticket_id, id, attempt, at, data) VALUES (?, ?, ?, ?, ?)',
  );
  const readEvents = prepared(
    `SELECT id, attempt, at, data FROM ticket_events WHERE ticket_id = ? AND id > ?
     ORDER BY id LIMIT ?`,
  );
  const putEvidence = prepared(
    `INSERT INTO ticket_evidence (ticket_id, attempt, evidence) VALUES (?, ?, ?)
     ON CONFLICT (ticket_id, attempt) DO UPDATE SET evidence = excluded.evidence`,
  );
  const evidenceOfAttempt = prepared(
    'SELECT evidence FROM ticket_evidence WHERE ticket_id = ? AND attempt = ?',
  );
  const latestEvidence = prepared(
    'SELECT evidence FROM ticket_evidence WHERE ticket_id = ? ORDER BY attempt DESC LIMIT 1',
  );
  const putBundle = prepared(
    `INSERT INTO ticket_bundles (ticket_id, bundle) VALUES (?, ?)
     ON CONFLICT (ticket_id) DO UPDATE SET bundle = excluded.bundle`,
  );
  const bundleOf = prepared('SELECT bundle FROM ticket_bundles WHERE ticket_id = ?');
  return {
    async appendTicketEvent(ticketId, event) {
      let id = 0;
      // The write lock (BEGIN IMMEDIATE) is taken before the last id is read, so two processes
      // appending at once never compute the same id.
      transaction(() => {
        id = Number((lastEventId().get(ticketId) as Row).id) + 1;
        insertEvent().run(ticketId, id, event.attempt, event.at, JSON.stringify(event.data));
      });
      return { id, attempt: event.attempt, at: event.at, data: event.data };
    },
    async readTicketEvents(ticketId, afterId, limit) {
      const rows = readEvents().all(ticketId, afterId, limit) as Row[];
      return rows.map(toTicketEvent);
    },
    async putEvidence(evidence) {
      putEvidence().run(evidence.ticket, evidence.attempt, JSON.stringify(evidence));
    },
    async getEvidence(ticketId, attempt) {
      const row = (
        attempt === undefined
          ? latestEvidence().get(ticketId)
          : evidenceOfAttempt().get(ticketId, attempt)
      ) as Row | undefined;
      return row && (JSON.parse(String(row.evidence)) as Evidence);
    },
    async putTicketBundle(ticketId, bundle) {
      putBundle().run(ticketId, bundle);
    },
    async getTicketBundle(ticketId) {
      const row = bundleOf().get(ticketId) as Row | undefined;
      if (!row) return undefined;
      const data = row.bundle as Uint8Array;
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    },
  };
}
