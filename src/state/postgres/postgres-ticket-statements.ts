import { ticketColumns, ticketJsonColumns, toTicket } from '../rows/ticket-row.ts';
import type { TicketMethods } from '../state-method-groups.ts';
import { type ColumnValue, columnValues } from './postgres-column-values.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { jsonText } from './postgres-row-values.ts';

/** Tickets themselves; their events, evidence and bundles are in postgres-ticket-event-statements. */
export function postgresTicketStatements({ sql }: PostgresDatabase): TicketMethods {
  return {
    async insertTicket(ticket) {
      await sql`INSERT INTO tickets (id, owner, project, title, request, criteria, role, model,
        budget, status, reason, workspace, base_commit, base_tree, attempt, usage, branch,
        commit_id, history, comments_through, host, server, created_at, updated_at, plan_id)
        VALUES (${ticket.id}, ${ticket.owner}, ${ticket.project}, ${ticket.title},
        ${ticket.request}, ${JSON.stringify(ticket.criteria)}, ${ticket.role}, ${ticket.model},
        ${JSON.stringify(ticket.budget)}, ${ticket.status}, ${ticket.reason}, ${ticket.workspace},
        ${ticket.baseCommit}, ${ticket.baseTree ?? null}, ${ticket.attempt},
        ${JSON.stringify(ticket.usage)}, ${ticket.branch}, ${ticket.commit},
        ${JSON.stringify(ticket.history)}, ${ticket.commentsDeliveredThrough ?? 0},
        ${ticket.host ?? null}, ${ticket.server ?? null}, ${ticket.createdAt},
        ${ticket.updatedAt}, ${ticket.plan ?? null})`;
    },
    async updateTicket(id, update) {
      const values = columnValues('tickets', ticketColumns, update, (column, value) =>
        ticketJsonColumns.has(column) ? jsonText(value) : (value as ColumnValue),
      );
      if (Object.keys(values).length > 0)
        await sql`UPDATE tickets SET ${sql(values)} WHERE id = ${id}`;
    },
    async getTicket(owner, id) {
      const [row] = await sql`SELECT * FROM tickets WHERE owner = ${owner} AND id = ${id}`;
      return row && toTicket(row);
    },
    async listTickets(filter) {
      const rows = await sql`SELECT * FROM tickets WHERE owner = ${filter.owner}
        ${filter.project === undefined ? sql`` : sql`AND project = ${filter.project}`}
        ${filter.status === undefined ? sql`` : sql`AND status = ${filter.status}`}
        ${filter.plan === undefined ? sql`` : sql`AND plan_id = ${filter.plan}`}
        ORDER BY seq DESC`;
      return rows.map(toTicket);
    },
    async ticketsInStatus(statuses) {
      if (statuses.length === 0) return [];
      const rows = await sql`SELECT * FROM tickets WHERE status IN ${sql(statuses)} ORDER BY seq`;
      return rows.map(toTicket);
    },
  };
}
