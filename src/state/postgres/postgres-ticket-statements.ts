import type { Budget, Criterion, TokenUsage } from '../../api/tickets.ts';
import type { StateRepository, TicketRecord, TicketUpdate } from '../state-repository.ts';
import { type ColumnValue, columnValues, text } from './postgres-column-values.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { jsonText } from './postgres-json-text.ts';

type TicketMethods = Pick<
  StateRepository,
  'insertTicket' | 'updateTicket' | 'getTicket' | 'listTickets' | 'ticketsInStatus'
>;

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
        jsonColumns.has(column) ? jsonText(value) : (value as ColumnValue),
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

const ticketColumns: Record<keyof TicketUpdate, string> = {
  title: 'title',
  request: 'request',
  criteria: 'criteria',
  role: 'role',
  model: 'model',
  budget: 'budget',
  status: 'status',
  reason: 'reason',
  workspace: 'workspace',
  baseCommit: 'base_commit',
  baseTree: 'base_tree',
  attempt: 'attempt',
  usage: 'usage',
  branch: 'branch',
  commit: 'commit_id',
  history: 'history',
  commentsDeliveredThrough: 'comments_through',
  host: 'host',
  server: 'server',
  updatedAt: 'updated_at',
  plan: 'plan_id',
};
const jsonColumns = new Set(['criteria', 'budget', 'usage', 'history']);

function toTicket(row: Record<string, unknown>): TicketRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    project: String(row.project),
    title: String(row.title),
    request: String(row.request),
    criteria: JSON.parse(String(row.criteria)) as Criterion[],
    role: String(row.role),
    model: text(row.model),
    budget: JSON.parse(String(row.budget)) as Budget,
    status: row.status as TicketRecord['status'],
    reason: text(row.reason),
    workspace: text(row.workspace),
    baseCommit: text(row.base_commit),
    baseTree: text(row.base_tree),
    attempt: Number(row.attempt),
    usage: JSON.parse(String(row.usage)) as TokenUsage,
    branch: text(row.branch),
    commit: text(row.commit_id),
    history: JSON.parse(String(row.history)) as unknown[],
    commentsDeliveredThrough: Number(row.comments_through),
    host: text(row.host),
    server: text(row.server),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
    plan: text(row.plan_id),
  };
}
