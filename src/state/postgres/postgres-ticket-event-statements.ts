import type { Evidence } from '../../api/tickets.ts';
import { toTicketEvent } from '../rows/ticket-event-row.ts';
import type { TicketEventMethods } from '../state-method-groups.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { safeInteger } from './postgres-row-values.ts';

/** A ticket's append-only events, each attempt's evidence, and the approved result's bundle. */
export function postgresTicketEventStatements({ sql }: PostgresDatabase): TicketEventMethods {
  return {
    async appendTicketEvent(ticketId, event) {
      const data = JSON.stringify(event.data);
      // One statement: the next id and the row at once. Two servers appending together compute
      // the same id; the second's INSERT waits for the first's row, then does nothing (a fresh
      // statement, with a fresh snapshot, tries the next id). The ticket may have no row yet, so
      // there is no row to lock instead.
      for (;;) {
        const [row] = await sql`INSERT INTO ticket_events (ticket_id, id, attempt, at, data)
          SELECT ${ticketId}, COALESCE(MAX(id), 0) + 1, ${event.attempt}, ${event.at}, ${data}
          FROM ticket_events WHERE ticket_id = ${ticketId}
          ON CONFLICT (ticket_id, id) DO NOTHING RETURNING id`;
        if (row)
          return { id: Number(row.id), attempt: event.attempt, at: event.at, data: event.data };
      }
    },
    async readTicketEvents(ticketId, afterId, limit) {
      const rows = await sql`SELECT id, attempt, at, data FROM ticket_events
        WHERE ticket_id = ${ticketId} AND id > ${safeInteger(afterId)}::bigint ORDER BY id
        LIMIT ${safeInteger(limit)}::bigint`;
      return rows.map(toTicketEvent);
    },
    async putEvidence(evidence) {
      await sql`INSERT INTO ticket_evidence (ticket_id, attempt, evidence)
        VALUES (${evidence.ticket}, ${evidence.attempt}, ${JSON.stringify(evidence)})
        ON CONFLICT (ticket_id, attempt) DO UPDATE SET evidence = excluded.evidence`;
    },
    async getEvidence(ticketId, attempt) {
      const [row] =
        attempt === undefined
          ? await sql`SELECT evidence FROM ticket_evidence WHERE ticket_id = ${ticketId}
              ORDER BY attempt DESC LIMIT 1`
          : await sql`SELECT evidence FROM ticket_evidence
              WHERE ticket_id = ${ticketId} AND attempt = ${safeInteger(attempt)}::bigint`;
      return row && (JSON.parse(String(row.evidence)) as Evidence);
    },
    async putTicketBundle(ticketId, bundle) {
      await sql`INSERT INTO ticket_bundles (ticket_id, bundle) VALUES (${ticketId}, ${bundle})
        ON CONFLICT (ticket_id) DO UPDATE SET bundle = excluded.bundle`;
    },
    async getTicketBundle(ticketId) {
      const [row] = await sql`SELECT bundle FROM ticket_bundles WHERE ticket_id = ${ticketId}`;
      return row && (row.bundle as Buffer);
    },
  };
}
