import type { SQLInputValue } from 'node:sqlite';
import { ticketColumns, ticketJsonColumns, toTicket } from '../rows/ticket-row.ts';
import type { TicketMethods } from '../state-method-groups.ts';
import type { Row, SqliteDatabase } from './sqlite-database.ts';

/** Tickets themselves; their events, evidence and bundles are in sqlite-ticket-event-statements. */
export function sqliteTicketStatements({
  statement,
  prepared,
  updateColumns,
}: SqliteDatabase): TicketMethods {
  const insertTicket = prepared(
    `INSERT INTO tickets (id, owner, project, title, request, criteria, role, model, budget, status,
     reason, workspace, base_commit, base_tree, attempt, usage, branch, commit_id, history, comments_through,
     host, server, created_at, updated_at, plan_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const ticketById = prepared('SELECT * FROM tickets WHERE owner = ? AND id = ?');
  return {
    async insertTicket(ticket) {
      insertTicket().run(
        ticket.id,
        ticket.owner,
        ticket.project,
        ticket.title,
        ticket.request,
        JSON.stringify(ticket.criteria),
        ticket.role,
        ticket.model,
        JSON.stringify(ticket.budget),
        ticket.status,
        ticket.reason,
        ticket.workspace,
        ticket.baseCommit,
        ticket.baseTree ?? null,
        ticket.attempt,
        JSON.stringify(ticket.usage),
        ticket.branch,
        ticket.commit,
        JSON.stringify(ticket.history),
        ticket.commentsDeliveredThrough ?? 0,
        ticket.host ?? null,
        ticket.server ?? null,
        ticket.createdAt,
        ticket.updatedAt,
        ticket.plan ?? null,
      );
    },
    async updateTicket(id, update) {
      updateColumns(
        'tickets',
        ticketColumns,
        update,
        { sql: 'id = ?', values: [id] },
        (column, value) =>
          ticketJsonColumns.has(column) ? JSON.stringify(value) : (value as SQLInputValue),
      );
    },
    async getTicket(owner, id) {
      const row = ticketById().get(owner, id) as Row | undefined;
      return row && toTicket(row);
    },
    async listTickets(filter) {
      const where = ['owner = $owner'];
      const parameters: Record<string, SQLInputValue> = { owner: filter.owner };
      for (const key of ['project', 'status', 'plan'] as const) {
        if (filter[key] === undefined) continue;
        where.push(`${key === 'plan' ? 'plan_id' : key} = $${key}`);
        parameters[key] = filter[key];
      }
      const rows = statement(
        `SELECT * FROM tickets WHERE ${where.join(' AND ')} ORDER BY seq DESC`,
      ).all(parameters) as Row[];
      return rows.map(toTicket);
    },
    async ticketsInStatus(statuses) {
      if (statuses.length === 0) return [];
      const rows = statement(
        `SELECT * FROM tickets WHERE status IN (${statuses.map(() => '?').join(', ')}) ORDER BY seq`,
      ).all(...statuses) as Row[];
      return rows.map(toTicket);
    },
  };
}
