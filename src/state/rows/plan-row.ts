import type {
  PlanBudget,
  PlanEvent,
  PlanEventData,
  PlanIntegration,
  PlanTicket,
} from '../../api/plans.ts';
import type { TokenUsage } from '../../api/tickets.ts';
import type { PlanRecord, PlanUpdate } from '../state-repository.ts';
import { flag, type StateRow, text } from './row-values.ts';

/** The column of each field a plan's update may set. */
export const planColumns: Record<keyof PlanUpdate, string> = {
  request: 'request',
  summary: 'summary',
  status: 'status',
  reason: 'reason',
  model: 'model',
  auto: 'auto',
  autoApprove: 'auto_approve',
  maxParallel: 'max_parallel',
  budget: 'budget',
  usage: 'usage',
  tickets: 'tickets',
  baseCommit: 'base_commit',
  integration: 'integration',
  branch: 'branch',
  commit: 'commit_id',
  approvedAt: 'approved_at',
  host: 'host',
  server: 'server',
  updatedAt: 'updated_at',
};

/** The plan columns that hold JSON text. */
export const planJsonColumns = new Set(['budget', 'usage', 'tickets', 'integration']);

export function toPlan(row: StateRow): PlanRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    project: String(row.project),
    request: String(row.request),
    summary: text(row.summary),
    status: row.status as PlanRecord['status'],
    reason: text(row.reason),
    model: text(row.model),
    auto: flag(row.auto),
    autoApprove: flag(row.auto_approve),
    maxParallel: Number(row.max_parallel),
    budget: JSON.parse(String(row.budget)) as PlanBudget,
    usage: JSON.parse(String(row.usage)) as TokenUsage,
    tickets: JSON.parse(String(row.tickets)) as PlanTicket[],
    baseCommit: text(row.base_commit),
    integration:
      row.integration === null ? null : (JSON.parse(String(row.integration)) as PlanIntegration),
    branch: text(row.branch),
    commit: text(row.commit_id),
    approvedAt: text(row.approved_at),
    host: text(row.host),
    server: text(row.server),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

export function toPlanEvent(row: StateRow): PlanEvent {
  return {
    id: Number(row.id),
    at: String(row.at),
    data: JSON.parse(String(row.data)) as PlanEventData,
  };
}
