import type {
  PlanBudget,
  PlanEvent,
  PlanEventData,
  PlanEvidence,
  PlanIntegration,
  PlanTicket,
} from '../../api/plans.ts';
import type { TokenUsage } from '../../api/tickets.ts';
import type { PlanRecord, PlanUpdate, StateRepository } from '../state-repository.ts';
import { type ColumnValue, columnValues, text } from './postgres-column-values.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { jsonText } from './postgres-json-text.ts';

type PlanMethods = Pick<
  StateRepository,
  | 'insertPlan'
  | 'updatePlan'
  | 'getPlan'
  | 'listPlans'
  | 'plansInStatus'
  | 'appendPlanEvent'
  | 'readPlanEvents'
  | 'lastPlanEventId'
  | 'putPlanEvidence'
  | 'getPlanEvidence'
  | 'putPlanBundle'
  | 'getPlanBundle'
>;

/** Plans (their tickets as one JSON column: a plan is read and written whole), events, evidence, bundles. */
export function postgresPlanStatements({ sql }: PostgresDatabase): PlanMethods {
  return {
    async insertPlan(plan) {
      await sql`INSERT INTO plans (id, owner, project, request, summary, status, reason, model,
        auto, auto_approve, max_parallel, budget, usage, tickets, base_commit, integration, branch,
        commit_id, approved_at, host, server, created_at, updated_at)
        VALUES (${plan.id}, ${plan.owner}, ${plan.project}, ${plan.request}, ${plan.summary},
        ${plan.status}, ${plan.reason}, ${plan.model}, ${plan.auto}, ${plan.autoApprove},
        ${plan.maxParallel}, ${JSON.stringify(plan.budget)}, ${JSON.stringify(plan.usage)},
        ${JSON.stringify(plan.tickets)}, ${plan.baseCommit}, ${jsonText(plan.integration)},
        ${plan.branch}, ${plan.commit}, ${plan.approvedAt}, ${plan.host ?? null},
        ${plan.server ?? null}, ${plan.createdAt}, ${plan.updatedAt})`;
    },
    async updatePlan(id, update) {
      const values = columnValues('plans', planColumns, update, (column, value) =>
        jsonColumns.has(column) ? jsonText(value) : (value as ColumnValue),
      );
      if (Object.keys(values).length > 0)
        await sql`UPDATE plans SET ${sql(values)} WHERE id = ${id}`;
    },
    async getPlan(owner, id) {
      const [row] = await sql`SELECT * FROM plans WHERE owner = ${owner} AND id = ${id}`;
      return row && toPlan(row);
    },
    async listPlans(filter) {
      const rows = await sql`SELECT * FROM plans WHERE owner = ${filter.owner}
        ${filter.project === undefined ? sql`` : sql`AND project = ${filter.project}`}
        ${filter.status === undefined ? sql`` : sql`AND status = ${filter.status}`}
        ORDER BY seq DESC`;
      return rows.map(toPlan);
    },
    async plansInStatus(statuses) {
      if (statuses.length === 0) return [];
      const rows = await sql`SELECT * FROM plans WHERE status IN ${sql(statuses)} ORDER BY seq`;
      return rows.map(toPlan);
    },
    async appendPlanEvent(planId, event) {
      const data = JSON.stringify(event.data);
      // As for ticket events (postgres-ticket-event-statements.ts): one statement, tried again
      // when another server took the id first.
      for (;;) {
        const [row] = await sql`INSERT INTO plan_events (plan_id, id, at, data)
          SELECT ${planId}, COALESCE(MAX(id), 0) + 1, ${event.at}, ${data}
          FROM plan_events WHERE plan_id = ${planId}
          ON CONFLICT (plan_id, id) DO NOTHING RETURNING id`;
        if (row) return { id: Number(row.id), at: event.at, data: event.data };
      }
    },
    async readPlanEvents(planId, afterId, limit) {
      const rows = await sql`SELECT id, at, data FROM plan_events
        WHERE plan_id = ${planId} AND id > ${afterId} ORDER BY id LIMIT ${limit}`;
      return rows.map(
        (row): PlanEvent => ({
          id: Number(row.id),
          at: String(row.at),
          data: JSON.parse(String(row.data)) as PlanEventData,
        }),
      );
    },
    async lastPlanEventId(planId) {
      const [row] =
        await sql`SELECT COALESCE(MAX(id), 0) AS id FROM plan_events WHERE plan_id = ${planId}`;
      return Number(row?.id);
    },
    async putPlanEvidence(evidence) {
      await sql`INSERT INTO plan_evidence (plan_id, evidence)
        VALUES (${evidence.plan}, ${JSON.stringify(evidence)})
        ON CONFLICT (plan_id) DO UPDATE SET evidence = excluded.evidence`;
    },
    async getPlanEvidence(planId) {
      const [row] = await sql`SELECT evidence FROM plan_evidence WHERE plan_id = ${planId}`;
      return row && (JSON.parse(String(row.evidence)) as PlanEvidence);
    },
    async putPlanBundle(planId, bundle) {
      await sql`INSERT INTO plan_bundles (plan_id, bundle) VALUES (${planId}, ${bundle})
        ON CONFLICT (plan_id) DO UPDATE SET bundle = excluded.bundle`;
    },
    async getPlanBundle(planId) {
      const [row] = await sql`SELECT bundle FROM plan_bundles WHERE plan_id = ${planId}`;
      return row && (row.bundle as Buffer);
    },
  };
}

const planColumns: Record<keyof PlanUpdate, string> = {
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
const jsonColumns = new Set(['budget', 'usage', 'tickets', 'integration']);

function toPlan(row: Record<string, unknown>): PlanRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    project: String(row.project),
    request: String(row.request),
    summary: text(row.summary),
    status: row.status as PlanRecord['status'],
    reason: text(row.reason),
    model: text(row.model),
    auto: row.auto === true,
    autoApprove: row.auto_approve === true,
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
