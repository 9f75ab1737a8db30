import type { Budget, Criterion, TokenUsage } from '../../api/tickets.ts';
import type { TicketRecord, TicketUpdate } from '../state-repository.ts';
import { type StateRow, text } from './row-values.ts';

/** The column of each field a ticket's update may set. */
export const ticketColumns: Record<keyof TicketUpdate, string> = {
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

/** The ticket columns that hold JSON text. */
export const ticketJsonColumns = new Set(['criteria', 'budget', 'usage', 'history']);

export function toTicket(row: StateRow): TicketRecord {
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
